// Fetch ipfs://CID[/PATH] through @helia/verified-fetch, which checks every
// block against its CID, with one trustless gateway (myco's, on 127.0.0.1)
// as its only source: an HTTP-only Helia, no libp2p, no other router.
//
// Node 20 lacks Promise.withResolvers (Node 22), which the packages use.
Promise.withResolvers ??= function () {
  let resolve, reject
  const promise = new Promise((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}
const { createHeliaHTTP } = await import('@helia/http')
const { trustlessGateway } = await import('@helia/block-brokers')
const { httpGatewayRouting } = await import('@helia/routers')
// The package's index imports libp2p's WebRTC transport, whose native addon
// is not built here; the VerifiedFetch class itself needs none of it.
const { VerifiedFetch } = await import('./node_modules/@helia/verified-fetch/dist/src/verified-fetch.js')

const [gw, cid, path] = process.argv.slice(2)
const helia = await createHeliaHTTP({
  blockBrokers: [trustlessGateway({ allowLocal: true, allowInsecure: true })],
  routers: [httpGatewayRouting({ gateways: [gw] })]
})
const vf = new VerifiedFetch({ helia })
const res = await vf.fetch(`ipfs://${cid}${path ?? ''}`, { signal: AbortSignal.timeout(30000) })
const buf = Buffer.from(await res.arrayBuffer())
process.stderr.write(`status ${res.status} ${res.headers.get('content-type')} ${buf.length} bytes\n`)
// A write to a pipe is asynchronous: exit only once it is done.
await new Promise(resolve => process.stdout.write(buf, resolve))
await helia.stop()
process.exit(res.status === 200 ? 0 : 1)
