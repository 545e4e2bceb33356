// Writes the demo books to a SQLite file and exits (closing the file):
//   node lib/write-books.mjs FILE [MEMBERS] [SALES]
// Used by the tests and the browser measurements; `server.mjs` writes them
// itself when started on a missing file.
import { Books } from './books.mjs'

const [file, members = '2000', sales = '4000'] = process.argv.slice(2)
if (!file) {
  console.error('usage: node lib/write-books.mjs FILE [MEMBERS] [SALES]')
  process.exit(2)
}
Books.open(file, { members: Number(members), sales: Number(sales), log: (m) => console.log(m) })
