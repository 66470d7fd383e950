/// GPT-2's pre-tokenization: the text is cut into the matches of
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///
/// (Python `regex`, `findall`), written out by hand over Unicode scalars. Every scalar is in one of
/// four classes: a letter (`\p{L}`, general category L*), a number (`\p{N}`, N*), whitespace (`\s`,
/// which Python `regex` takes to be the `White_Space` property: tab to carriage return, space, U+0085,
/// U+00A0, …, but not the separators U+001C–U+001F that `str.isspace` accepts), or other. Since every
/// scalar starts some alternative, the matches tile the text.
///
/// The contractions are lower-case only (`'S` is not one), and only U+0020 can be the optional space
/// before a word. A run of whitespace followed by something else leaves its last scalar for the next
/// match (`"a   b"` is `a`, two spaces, ` b`), unless the run is a single scalar.
enum GPT2PreTokenizer {
    enum Kind: UInt8 {
        case letter, number, whitespace, other
    }

    @inline(__always)
    static func kind(of scalar: Unicode.Scalar) -> Kind {
        let value = scalar.value
        if value < 0x80 {
            switch value {
            case 0x41...0x5A, 0x61...0x7A: return .letter
            case 0x30...0x39: return .number
            case 0x09...0x0D, 0x20: return .whitespace
            default: return .other
            }
        }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return scalar.properties.isWhitespace ? .whitespace : .other
        }
    }

    /// The ranges of `text` that the pattern matches, in order.
    static func split(_ text: [Unicode.Scalar]) -> [Range<Int>] {
        var pieces: [Range<Int>] = []
        let kinds = text.map(kind(of:))
        let count = text.count
        var start = 0
        while start < count {
            let end = matchEnd(text, kinds, from: start)
            pieces.append(start..<end)
            start = end
        }
        return pieces
    }

    /// Where the match that starts at `start` ends, trying the alternatives in order.
    private static func matchEnd(_ text: [Unicode.Scalar], _ kinds: [Kind], from start: Int) -> Int {
        let count = text.count
        // 's 't 're 've 'm 'll 'd
        if text[start] == "'" && start + 1 < count {
            switch text[start + 1] {
            case "s", "t", "m", "d": return start + 2
            case "r", "v", "l":
                let second: Unicode.Scalar = text[start + 1] == "l" ? "l" : "e"
                if start + 2 < count && text[start + 2] == second { return start + 3 }
            default: break
            }
        }
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`
        var first = start
        if text[start] == " " && start + 1 < count && kinds[start + 1] != .whitespace { first = start + 1 }
        let kind = kinds[first]
        if kind != .whitespace {
            var end = first + 1
            while end < count && kinds[end] == kind { end += 1 }
            return end
        }
        // `\s+(?!\S)`, then `\s+`
        var end = start + 1
        while end < count && kinds[end] == .whitespace { end += 1 }
        if end == count || end - start == 1 { return end }
        return end - 1
    }
}
