/// How BERT's normalizer and pre-tokenizer see one Unicode scalar, exactly as the Rust `tokenizers`
/// crate (behind `transformers.AutoTokenizer`) does.
///
/// Control, punctuation and nonspacing-mark classes come from `BertCharacterTables` (read off the
/// Rust tokenizer's behaviour, whose Unicode tables are older than Swift's); whitespace is the
/// `White_Space` property and the CJK ranges are those of the Rust `BertNormalizer`.
struct BertCharacterClass: OptionSet, Sendable {
    let rawValue: UInt8

    /// Dropped by text cleaning (NUL, U+FFFD, and Cc/Cf/Co other than tab, newline, carriage return).
    static let removed = BertCharacterClass(rawValue: 1 << 0)
    /// `White_Space`: turned into a space by cleaning, and a word boundary for the pre-tokenizer.
    static let whitespace = BertCharacterClass(rawValue: 1 << 1)
    /// A word of its own for the pre-tokenizer (ASCII punctuation and the P* categories).
    static let punctuation = BertCharacterClass(rawValue: 1 << 2)
    /// Removed after NFD when accents are stripped (category Mn).
    static let nonspacingMark = BertCharacterClass(rawValue: 1 << 3)
    /// A CJK ideograph that gets spaces around it when `tokenize_chinese_chars` is on.
    static let chinese = BertCharacterClass(rawValue: 1 << 4)

    /// The class of a scalar: a table look-up in the Basic Multilingual Plane, binary searches above.
    @inline(__always)
    static func of(_ scalar: Unicode.Scalar) -> BertCharacterClass {
        let value = scalar.value
        if value < 0x1_0000 { return BertCharacterClass(rawValue: basicPlane[Int(value)]) }
        return supplementary(value)
    }

    /// `White_Space` (Rust's `char::is_whitespace`); a stable Unicode property.
    static let whitespaceRanges: [UInt32] = [
        0x9, 0xD, 0x20, 0x20, 0x85, 0x85, 0xA0, 0xA0, 0x1680, 0x1680, 0x2000, 0x200A,
        0x2028, 0x2029, 0x202F, 0x202F, 0x205F, 0x205F, 0x3000, 0x3000,
    ]

    /// The "Chinese character" ranges of the Rust `BertNormalizer`. They differ from the Python
    /// tokenizer's in one place: 0x2B920 (Rust) where Python has 0x2B820.
    static let chineseRanges: [UInt32] = [
        0x4E00, 0x9FFF, 0x3400, 0x4DBF, 0x20000, 0x2A6DF, 0x2A700, 0x2B73F,
        0x2B740, 0x2B81F, 0x2B920, 0x2CEAF, 0xF900, 0xFAFF, 0x2F800, 0x2FA1F,
    ]

    private static let tables: [(BertCharacterClass, [UInt32])] = [
        (.removed, BertCharacterTables.removed),
        (.whitespace, whitespaceRanges),
        (.punctuation, BertCharacterTables.punctuation),
        (.nonspacingMark, BertCharacterTables.nonspacingMarks),
        (.chinese, chineseRanges),
    ]

    /// One byte of flags per code point below U+10000.
    private static let basicPlane: [UInt8] = {
        var flags = [UInt8](repeating: 0, count: 0x1_0000)
        for (flag, ranges) in tables {
            for pair in stride(from: 0, to: ranges.count, by: 2) where ranges[pair] < 0x1_0000 {
                let last = min(ranges[pair + 1], 0xFFFF)
                for value in ranges[pair]...last { flags[Int(value)] |= flag.rawValue }
            }
        }
        return flags
    }()

    private static func supplementary(_ value: UInt32) -> BertCharacterClass {
        var result: BertCharacterClass = []
        for (flag, ranges) in tables where contains(ranges, value) { result.insert(flag) }
        return result
    }

    /// Whether `value` lies in one of the flat inclusive ranges `[first, last, first, last, ...]`.
    /// The ranges need not be sorted overall: the CJK list is searched linearly, the others by bisection.
    static func contains(_ ranges: [UInt32], _ value: UInt32) -> Bool {
        let count = ranges.count / 2
        if count <= 16 {
            for pair in 0..<count where ranges[2 * pair] <= value && value <= ranges[2 * pair + 1] {
                return true
            }
            return false
        }
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            if ranges[2 * middle + 1] < value {
                low = middle + 1
            } else {
                high = middle
            }
        }
        return low < count && ranges[2 * low] <= value
    }
}
