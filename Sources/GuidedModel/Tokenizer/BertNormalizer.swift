import Foundation

/// BERT's text normalization, step for step as the Rust `BertNormalizer`:
///
/// 1. clean: drop NUL, U+FFFD and control/format/private-use characters; every whitespace
///    character becomes a space;
/// 2. CJK: a space either side of each CJK ideograph (when `handleChineseChars`);
/// 3. accents: NFD, then drop nonspacing marks (when `stripAccents`);
/// 4. lower-case, one character at a time with its full Unicode mapping (when `lowercase`). There is
///    no context, so a final capital sigma becomes `σ`, not `ς` (the Python tokenizer's `str.lower()`
///    gives `ς`).
struct BertNormalizer: Sendable {
    var lowercase: Bool
    var stripAccents: Bool
    var handleChineseChars: Bool

    init(lowercase: Bool, stripAccents: Bool, handleChineseChars: Bool) {
        self.lowercase = lowercase
        self.stripAccents = stripAccents
        self.handleChineseChars = handleChineseChars
    }

    init(config: TokenizerConfig) {
        self.init(
            lowercase: config.doLowerCase, stripAccents: config.effectiveStripAccents,
            handleChineseChars: config.tokenizeChineseChars)
    }

    /// Normalizes `input` into `output` (which is emptied first).
    func normalize(_ input: ArraySlice<Unicode.Scalar>, into output: inout [Unicode.Scalar]) {
        output.removeAll(keepingCapacity: true)
        output.reserveCapacity(input.count)
        var canDecompose = false  // nothing below U+00C0 has a canonical decomposition
        var canChangeCase = false
        for scalar in input {
            let kind = BertCharacterClass.of(scalar)
            if kind.contains(.removed) { continue }
            if kind.contains(.whitespace) {
                output.append(" ")
                continue
            }
            if handleChineseChars && kind.contains(.chinese) {
                output.append(" ")
                output.append(scalar)
                output.append(" ")
            } else {
                output.append(scalar)
            }
            canDecompose = canDecompose || scalar.value >= 0xC0
            canChangeCase = canChangeCase || scalar.value >= 0x41
        }
        if stripAccents {
            if canDecompose { Self.decompose(&output) }
            output.removeAll { BertCharacterClass.of($0).contains(.nonspacingMark) }
        }
        if lowercase && canChangeCase { Self.lowercase(&output) }
    }

    /// Scalars that the Rust tokenizer's (older) NFD tables leave whole but Swift's decompose:
    /// U+11938 DIVES AKURU VOWEL SIGN O (Unicode 13). Each is a starter, so NFD can be applied
    /// to the text on either side of it separately.
    static let keptWhole: Set<UInt32> = [0x11938]

    /// Canonical decomposition (NFD) in place, leaving `keptWhole` scalars as they are.
    static func decompose(_ scalars: inout [Unicode.Scalar]) {
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(scalars.count + scalars.count / 4)
        var start = 0
        func flush(upTo end: Int) {
            guard start < end else { return }
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars[start..<end])
            result.append(contentsOf: String(view).decomposedStringWithCanonicalMapping.unicodeScalars)
        }
        for (index, scalar) in scalars.enumerated() where keptWhole.contains(scalar.value) {
            flush(upTo: index)
            result.append(scalar)
            start = index + 1
        }
        flush(upTo: scalars.count)
        scalars = result
    }

    /// Full lower-case mapping of each scalar on its own (`İ` becomes `i` + U+0307), in place.
    static func lowercase(_ scalars: inout [Unicode.Scalar]) {
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar.value < 0x80 {
                if scalar.value >= 0x41 && scalar.value <= 0x5A {
                    scalars[index] = Unicode.Scalar(UInt8(scalar.value + 0x20))
                }
                index += 1
            } else if scalar.properties.changesWhenLowercased {
                let mapped = Array(scalar.properties.lowercaseMapping.unicodeScalars)
                scalars.replaceSubrange(index...index, with: mapped)
                index += mapped.count
            } else {
                index += 1
            }
        }
    }
}
