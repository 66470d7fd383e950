/// The vocabulary as a trie over Unicode scalars: exact (scalar-by-scalar) token lookup, and the
/// longest vocabulary token that starts a word, in one walk.
///
/// Exact matters: Swift's `String` equality is canonical equivalence (`"é" == "e\u{301}"`), but the
/// Rust tokenizer compares bytes, so a `Dictionary<String, Int32>` would find tokens it does not.
struct TokenTrie: Sendable {
    /// Child of `node` along scalar `s`, keyed `node << 32 | s`.
    private var edges: [UInt64: Int32] = [:]
    /// The token id that ends at each node, or -1.
    private var ids: [Int32] = [-1]

    static let root: Int32 = 0

    @inline(__always)
    func child(of node: Int32, _ scalar: Unicode.Scalar) -> Int32? {
        edges[UInt64(UInt32(bitPattern: node)) << 32 | UInt64(scalar.value)]
    }

    /// The token id that ends at `node`, if a token does.
    @inline(__always)
    func id(at node: Int32) -> Int32? {
        let id = ids[Int(node)]
        return id < 0 ? nil : id
    }

    /// The node reached from `node` along `scalars`, if the trie has that path.
    func walk(from node: Int32 = root, _ scalars: some Sequence<Unicode.Scalar>) -> Int32? {
        var node = node
        for scalar in scalars {
            guard let next = child(of: node, scalar) else { return nil }
            node = next
        }
        return node
    }

    /// The id of the token spelled exactly `scalars`.
    func lookup(_ scalars: some Sequence<Unicode.Scalar>) -> Int32? {
        walk(scalars).flatMap(id(at:))
    }

    /// Adds a token; returns the id already stored for the same spelling instead, if there is one.
    mutating func insert(_ scalars: some Sequence<Unicode.Scalar>, id: Int32) -> Int32? {
        var node = Self.root
        for scalar in scalars {
            let key = UInt64(UInt32(bitPattern: node)) << 32 | UInt64(scalar.value)
            if let next = edges[key] {
                node = next
            } else {
                let next = Int32(ids.count)
                ids.append(-1)
                edges[key] = next
                node = next
            }
        }
        if let existing = self.id(at: node) { return existing }
        ids[Int(node)] = id
        return nil
    }

    /// The longest token that is a prefix of `word[start...]`, walking from `node`:
    /// its id and the index just past it. Greedy longest-match-first WordPiece asks exactly this.
    @inline(__always)
    func longestMatch(in word: UnsafeBufferPointer<Unicode.Scalar>, from start: Int, node: Int32)
        -> (id: Int32, end: Int)?
    {
        var node = node
        var best: (id: Int32, end: Int)?
        var index = start
        while index < word.count, let next = child(of: node, word[index]) {
            node = next
            index += 1
            if let id = id(at: node) { best = (id, index) }
        }
        return best
    }
}
