// An independent reader and writer of CAR files for myco's tests, built
// on js-ipfs's libraries.
//
//   node interop.mjs extract FILE.car OUTDIR   verifies every block against its CID,
//                                              writes the root's files under OUTDIR/ROOTCID,
//                                              prints the root CID
//   node interop.mjs pack DIR FILE.car         imports DIR (CIDv1, raw leaves) and writes
//                                              its DAG as a CARv1; prints the root CID
import fs from 'node:fs'
import path from 'node:path'
import { CarBlockIterator, CarWriter } from '@ipld/car'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { exporter } from 'ipfs-unixfs-exporter'
import { importer } from 'ipfs-unixfs-importer'
import { sha256 } from 'multiformats/hashes/sha2'
import { equals } from 'multiformats/bytes'

const [mode, a, b] = process.argv.slice(2)

async function extract (carPath, outDir) {
  const blocks = await CarBlockIterator.fromIterable(fs.createReadStream(carPath))
  const [root] = await blocks.getRoots()
  const bs = new MemoryBlockstore()
  let n = 0
  for await (const { cid, bytes } of blocks) {
    if (cid.multihash.code !== sha256.code) throw new Error(`block ${cid}: not sha2-256`)
    const digest = await sha256.digest(bytes)
    if (!equals(digest.digest, cid.multihash.digest)) throw new Error(`block ${cid}: bytes do not match the CID`)
    await bs.put(cid, bytes)
    n++
  }
  await write(root, path.join(outDir, root.toString()), bs)
  process.stderr.write(`${n} blocks verified\n`)
  console.log(root.toString())
}

// write exports the UnixFS entry at cid to p, recursively.
async function write (cid, p, bs) {
  const entry = await exporter(cid, bs)
  if (entry.type === 'directory') {
    fs.mkdirSync(p, { recursive: true })
    for await (const child of entry.entries()) {
      await write(child.cid, path.join(p, child.name), bs)
    }
  } else if (entry.type === 'file' || entry.type === 'raw') {
    const fd = fs.openSync(p, 'w')
    for await (const chunk of entry.content()) fs.writeSync(fd, chunk)
    fs.closeSync(fd)
  } else {
    throw new Error(`${p}: unexpected ${entry.type}`)
  }
}

function * walk (dir, rel) {
  for (const name of fs.readdirSync(dir).sort()) {
    const full = path.join(dir, name)
    const r = rel + '/' + name
    if (fs.statSync(full).isDirectory()) {
      yield * walk(full, r)
    } else {
      yield { path: r, content: fs.createReadStream(full) }
    }
  }
}

// blocks keeps every block the importer writes, with its full CID.
class Blocks {
  constructor () { this.m = new Map() }
  put (cid, bytes) { this.m.set(cid.toString(), { cid, bytes }); return cid }
  * get (cid) {
    const b = this.m.get(cid.toString())
    if (b == null) throw new Error(`no block ${cid}`)
    yield b.bytes
  }

  has (cid) { return this.m.has(cid.toString()) }
}

async function pack (dir, carPath) {
  const bs = new Blocks()
  let root
  for await (const entry of importer(walk(dir, path.basename(dir)), bs, { cidVersion: 1, rawLeaves: true })) {
    root = entry.cid // the last entry is the top directory
  }
  const { writer, out } = CarWriter.create([root])
  const done = (async () => {
    const fd = fs.openSync(carPath, 'w')
    for await (const chunk of out) fs.writeSync(fd, chunk)
    fs.closeSync(fd)
  })()
  for (const { cid, bytes } of bs.m.values()) {
    await writer.put({ cid, bytes })
  }
  await writer.close()
  await done
  console.log(root.toString())
}

if (mode === 'extract') await extract(a, b)
else if (mode === 'pack') await pack(a, b)
else throw new Error('usage: interop.mjs extract FILE.car OUTDIR | pack DIR FILE.car')
