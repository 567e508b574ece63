package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Config keys for `myco config get|set`: the JSON names of config.json,
// joined with dots for sections ("limits.max_upload", "dht.mode"). A value
// is given as text: a string as is, a number or true/false as written, a
// list as a JSON array or comma-separated ("" is an empty list). A set is
// checked with the same rules as at start (Validate) before it is saved.

// ErrUnknownConfigKey is returned for a key config.json does not have.
var ErrUnknownConfigKey = errors.New("no such config key")

// ConfigKeys lists every key that takes a value, sorted.
func ConfigKeys() []string {
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			name := jsonName(f)
			if name == "" {
				continue
			}
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, prefix+name+".")
				continue
			}
			keys = append(keys, prefix+name)
		}
	}
	walk(reflect.TypeFor[Config](), "")
	sort.Strings(keys)
	return keys
}

func jsonName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		name = f.Name
	}
	return name
}

// configField finds the field of c named by a dotted key.
func configField(c *Config, key string) (reflect.Value, error) {
	v := reflect.ValueOf(c).Elem()
	parts := strings.Split(key, ".")
	for i, part := range parts {
		t := v.Type()
		found := false
		for j := range t.NumField() {
			if jsonName(t.Field(j)) == part {
				v, found = v.Field(j), true
				break
			}
		}
		if !found {
			return reflect.Value{}, fmt.Errorf("%q: %w (see 'myco config show' for the keys)", key, ErrUnknownConfigKey)
		}
		if v.Kind() == reflect.Struct && i == len(parts)-1 {
			var subs []string
			for _, k := range ConfigKeys() {
				if strings.HasPrefix(k, key+".") {
					subs = append(subs, k)
				}
			}
			return reflect.Value{}, fmt.Errorf("%q is a section, not a value: use one of %s", key, strings.Join(subs, ", "))
		}
		if v.Kind() != reflect.Struct && i < len(parts)-1 {
			return reflect.Value{}, fmt.Errorf("%q: %w (see 'myco config show' for the keys)", key, ErrUnknownConfigKey)
		}
	}
	return v, nil
}

// ConfigValue returns the value of key in c as `config get` prints it:
// strings and numbers as they are, lists as JSON, an unset optional value
// as "".
func ConfigValue(c Config, key string) (string, error) {
	v, err := configField(&c, key)
	if err != nil {
		return "", err
	}
	switch v.Kind() {
	case reflect.String:
		return v.String(), nil
	case reflect.Pointer:
		if v.IsNil() {
			return "", nil
		}
		v = v.Elem()
	}
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return "", fmt.Errorf("config %s: %w", key, err)
	}
	return string(b), nil
}

// SetConfigValue returns c with key set to value, after checking the
// whole config as at start; c itself is not changed.
func SetConfigValue(c Config, key, value string) (Config, error) {
	// A copy whose lists and pointers are not shared with c.
	var out Config
	b, err := json.Marshal(c)
	if err != nil {
		return Config{}, fmt.Errorf("copy config: %w", err)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return Config{}, fmt.Errorf("copy config: %w", err)
	}
	v, err := configField(&out, key)
	if err != nil {
		return Config{}, err
	}
	if err := setValue(v, value); err != nil {
		return Config{}, fmt.Errorf("%s %q: %w", key, value, err)
	}
	if err := out.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s %q: %w", key, value, err)
	}
	return out, nil
}

func setValue(v reflect.Value, s string) error {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Int:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return errors.New("want a whole number")
		}
		v.SetInt(int64(n))
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return errors.New("want true or false")
		}
		v.SetBool(b)
	case reflect.Pointer:
		if strings.TrimSpace(s) == "" {
			v.SetZero() // back to the default
			return nil
		}
		p := reflect.New(v.Type().Elem())
		if err := setValue(p.Elem(), s); err != nil {
			return err
		}
		v.Set(p)
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("cannot set a list of %s", v.Type().Elem())
		}
		var list []string
		switch t := strings.TrimSpace(s); {
		case t == "":
			list = []string{}
		case strings.HasPrefix(t, "["):
			if err := json.Unmarshal([]byte(t), &list); err != nil {
				return errors.New(`want a JSON list of strings such as ["a", "b"], or a comma-separated list`)
			}
		default:
			for _, e := range strings.Split(t, ",") {
				if e = strings.TrimSpace(e); e != "" {
					list = append(list, e)
				}
			}
		}
		v.Set(reflect.ValueOf(list))
	default:
		return fmt.Errorf("cannot set a value of kind %s", v.Kind())
	}
	return nil
}

// LiveConfigCommand names the command that applies a key to a running
// daemon at once, or "" when the key takes effect at the next start.
func LiveConfigCommand(key string) string {
	switch key {
	case "log_level":
		return "myco log level LEVEL"
	case "limits.max_upload", "limits.max_download":
		return "myco swarm limits"
	}
	return ""
}
