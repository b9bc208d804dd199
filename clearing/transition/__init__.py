"""The state transition, the top layer of clearing/: the transaction union and the kinds
whose rules compose risk/, default/ and governance/, a block's dispatch and end-of-block
steps, and what a block commits to (the state root, the snapshot). Nothing under it
imports it, so default/, governance/ and risk/ read as the layers below."""
