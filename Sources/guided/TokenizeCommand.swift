import ArgumentParser
import Foundation
import GuidedModel

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tokenize text exactly as transformers' BertTokenizer or GPT2Tokenizer does.",
        discussion: """
            BERT (vocab.txt and tokenizer_config.json in --model): each TEXT is encoded as \
            [CLS] text [SEP]; with --pair the texts are taken two at a time as [CLS] a [SEP] b [SEP]. \
            GPT-2 (vocab.json and merges.txt): byte-level BPE with no special tokens added; a pair is \
            the two texts' tokens one after the other. --max-length truncates longest-first, as \
            transformers does.
            """)

    @Option(help: "A folder with vocab.txt (BERT) or vocab.json and merges.txt (GPT-2), and optionally tokenizer_config.json.")
    var model: String

    @Flag(help: "Encode the texts two at a time as sentence pairs.")
    var pair = false

    @Option(help: "Truncate each encoding to this many tokens, specials included.")
    var maxLength: Int?

    @Flag(help: "One JSON object per encoding on stdout: input_ids, token_type_ids, attention_mask, tokens.")
    var json = false

    @Argument(help: "The texts to encode.")
    var texts: [String]

    func validate() throws {
        if pair && texts.count % 2 != 0 { throw ValidationError("--pair needs an even number of texts, got \(texts.count)") }
        if let maxLength, maxLength < 3 { throw ValidationError("--max-length must be at least 3") }
    }

    func run() throws {
        let tokenizer = try GuidedModel.tokenizer(inFolder: URL(fileURLWithPath: model))
        let inputs: [(String, String?)] = pair
            ? stride(from: 0, to: texts.count, by: 2).map { (texts[$0], texts[$0 + 1]) }
            : texts.map { ($0, nil) }
        for (a, b) in inputs {
            let e = tokenizer.encode(a, pair: b, maxLength: maxLength)
            if json {
                let object: [String: Any] = ["input_ids": e.inputIds.map(Int.init), "token_type_ids": e.tokenTypeIds.map(Int.init),
                                             "attention_mask": e.attentionMask.map(Int.init), "tokens": e.tokens]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(zip(e.tokens, e.inputIds).map { "\($0)(\($1))" }.joined(separator: " "))
            }
        }
    }
}
