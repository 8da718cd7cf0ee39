"""The Yjs pieces: the `Document` type over pycrdt, the Yjs binary format we read ourselves,
Yjs client ids, and the plain-value snapshot of a document."""
