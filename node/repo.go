package node

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/myco-p2p/myco/ledger"
	"github.com/myco-p2p/myco/node/keyfile"
)

// Files inside a repo directory.
const (
	ConfigFile   = "config.json"
	IdentityFile = "identity.key" // libp2p Ed25519 private key, protobuf-encoded
	WalletFile   = "wallet.key"   // secp256k1 private key
	APIFile      = "api"          // host:port of the running daemon's API
	TokenFile    = "api.token"    // bearer token of the running daemon's API
	LockFile     = "repo.lock"    // held by the running daemon
)

// EnvRepo names the environment variable that selects the repo directory.
const EnvRepo = "MYCO_REPO"

// ErrRepoExists is returned by InitRepo when the directory already holds a repo.
var ErrRepoExists = errors.New("a myco repo already exists there")

// ErrNoRepo is returned when a directory holds no repo.
var ErrNoRepo = errors.New("no myco repo")

// ErrRepoLocked is returned when another daemon holds the repo.
var ErrRepoLocked = errors.New("another myco daemon is already running on this repo")

// ResolveRepoPath picks the repo directory: the flag if given, else
// $MYCO_REPO, else ~/.myco.
func ResolveRepoPath(flag string) (string, error) {
	p := flag
	if p == "" {
		p = os.Getenv(EnvRepo)
	}
	if p == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the repo: no --repo, no $%s and no home directory: %w", EnvRepo, err)
		}
		p = filepath.Join(home, ".myco")
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("repo path %q: %w", p, err)
	}
	return abs, nil
}

// Repo is an initialised repo directory.
type Repo struct {
	Path   string
	Config Config
}

// File returns the path of a file inside the repo.
func (r *Repo) File(name string) string { return filepath.Join(r.Path, name) }

// InitResult says what InitRepo created.
type InitResult struct {
	PeerID  peer.ID
	Address string
	Network string
}

// InitRepo creates a repo at path for a network: config.json, a libp2p
// Ed25519 identity and a secp256k1 wallet key, both 0600. It refuses to touch
// a directory that already has a config.json, and on failure removes what it
// created.
func InitRepo(path, network string) (InitResult, error) {
	netw, err := ledger.ParseNetwork(network)
	if err != nil {
		return InitResult{}, err
	}
	cfg := DefaultConfig(string(netw))
	if _, err := os.Stat(filepath.Join(path, ConfigFile)); err == nil {
		return InitResult{}, fmt.Errorf("init %s: %w", path, ErrRepoExists)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return InitResult{}, fmt.Errorf("init %s: %w", path, err)
	}
	createdDir := false
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(path, 0o700); err != nil {
			return InitResult{}, fmt.Errorf("init: create %s: %w", path, err)
		}
		createdDir = true
	}
	var created []string
	fail := func(err error) (InitResult, error) {
		for _, f := range created {
			os.Remove(f)
		}
		if createdDir {
			os.Remove(path)
		}
		return InitResult{}, fmt.Errorf("init %s: %w", path, err)
	}

	sk, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return fail(fmt.Errorf("generate identity: %w", err))
	}
	skBytes, err := crypto.MarshalPrivateKey(sk)
	if err != nil {
		return fail(fmt.Errorf("encode identity: %w", err))
	}
	idPath := filepath.Join(path, IdentityFile)
	if err := writeFileExcl(idPath, skBytes, 0o600); err != nil {
		return fail(err)
	}
	created = append(created, idPath)
	pid, err := peer.IDFromPrivateKey(sk)
	if err != nil {
		return fail(err)
	}

	wk, err := ledger.GenerateKey()
	if err != nil {
		return fail(fmt.Errorf("generate wallet key: %w", err))
	}
	wPath := filepath.Join(path, WalletFile)
	if err := keyfile.Save(wPath, wk); err != nil {
		return fail(err)
	}
	created = append(created, wPath)

	cfgBytes, err := cfg.encode()
	if err != nil {
		return fail(err)
	}
	cfgPath := filepath.Join(path, ConfigFile)
	if err := writeFileExcl(cfgPath, cfgBytes, 0o600); err != nil {
		return fail(err)
	}
	addr := ledger.AddressFromPubKey(wk.PubKey()).Encode(netw.Params())
	return InitResult{PeerID: pid, Address: addr, Network: string(netw)}, nil
}

// OpenRepo reads the repo at path.
func OpenRepo(path string) (*Repo, error) {
	cfgPath := filepath.Join(path, ConfigFile)
	if _, err := os.Stat(cfgPath); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s (create one with 'myco init')", ErrNoRepo, path)
	}
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		return nil, err
	}
	return &Repo{Path: path, Config: cfg}, nil
}

// Identity loads the node's libp2p private key.
func (r *Repo) Identity() (crypto.PrivKey, error) {
	b, err := readSmallFile(r.File(IdentityFile), 4096)
	if err != nil {
		return nil, fmt.Errorf("read identity: %w", err)
	}
	sk, err := crypto.UnmarshalPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("decode identity %s: %w", r.File(IdentityFile), err)
	}
	return sk, nil
}

// errLockBusy: another process holds the repo lock.
var errLockBusy = errors.New("lock held by another process")

// Lock takes the repo's exclusive lock for a daemon. The lock is released
// when the returned file is closed or the process exits.
func (r *Repo) Lock() (*os.File, error) {
	f, err := os.OpenFile(r.File(LockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock repo: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, errLockBusy) {
			return nil, fmt.Errorf("%w (%s)", ErrRepoLocked, r.Path)
		}
		return nil, fmt.Errorf("lock repo: %w", err)
	}
	return f, nil
}

func writeFileExcl(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// writeFileAtomic replaces path with data through a temporary file and a
// rename, so readers see the old or the new content, never a torn one.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// readSmallFile reads a file that must not exceed max bytes.
func readSmallFile(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > max {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d expected", path, st.Size(), max)
	}
	b := make([]byte, st.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, err
	}
	return b, nil
}
