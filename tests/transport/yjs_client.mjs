// A real Yjs client for test_yjs_node.py: edits offline, connects with y-websocket, edits
// again, and reports its text and sync state as JSON lines on stdout until told to quit.
// Usage: node yjs_client.mjs <serverUrl> <room> <token> <name>
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'
import readline from 'node:readline'

const [serverUrl, room, token, name] = process.argv.slice(2)
const say = (event) => process.stdout.write(JSON.stringify(event) + '\n')

const doc = new Y.Doc()
const text = doc.getText('body')
text.insert(0, `${name}-offline;`)
doc.on('update', () => say({ event: 'text', text: text.toString() }))

const provider = new WebsocketProvider(serverUrl, room, doc, {
  WebSocketPolyfill: WebSocket,
  params: { token },
  disableBc: true,
})
provider.awareness.setLocalStateField('user', { name })
// Everyone this client is aware of, by user name (its own state included).
const sayAwareness = () => {
  const users = [...provider.awareness.getStates().values()].map((s) => s.user?.name)
  say({ event: 'awareness', users: users.filter(Boolean).sort() })
}
provider.awareness.on('change', sayAwareness)
let editedOnline = false
provider.on('sync', (synced) => {
  if (synced && !editedOnline) {
    editedOnline = true
    text.insert(text.length, `${name}-online;`)
  }
  say({ event: 'sync', synced, text: text.toString() })
})
provider.on('status', ({ status }) => say({ event: 'status', status }))

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line)
  if (cmd.cmd === 'text') say({ event: 'text', text: text.toString() })
  if (cmd.cmd === 'edit') {
    // {at: 0..1, insert: string} or {at: 0..1, delete: n}: a live edit anywhere in the text
    const n = text.length
    if (cmd.delete && n) {
      const start = Math.min(Math.floor(cmd.at * n), n - 1)
      text.delete(start, Math.min(cmd.delete, n - start))
    } else if (cmd.insert) {
      text.insert(Math.min(Math.floor(cmd.at * (n + 1)), n), cmd.insert)
    }
    say({ event: 'edited', count: cmd.count })
  }
  if (cmd.cmd === 'quit') {
    provider.destroy()
    process.exit(0)
  }
})
