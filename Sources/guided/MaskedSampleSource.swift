import ArgumentParser
import Foundation
import GuidedMethod
import GuidedModel
import Logging

/// Where pretraining samples come from, the same for `guided fisher` and `guided landscape`: a corpus
/// (subsampled, tokenised, and for a masked LM masked with the seeded collator masks) or a JSON
/// Lines file of samples in the Hugging Face collator's form.
struct MaskedSampleSource: ParsableArguments {
    @Option(parsing: .singleValue, help: "Text (repeatable): .txt (one document per line), .jsonl with a \"text\" field, or a folder of them.")
    var corpus: [String] = []

    @Option(help: "Read masked samples from a JSON Lines file written by --dump-inputs (or the HF collator) instead of a corpus.")
    var inputs: String?

    @Option(help: "Tokens per sample (BERT: [CLS] and [SEP] included).")
    var maxLength = 128

    @Flag(help: "Split long documents into several samples of --max-length instead of truncating.")
    var chunk = false

    func validate() throws {
        guard maxLength >= 3 else { throw ValidationError("--max-length must be at least 3") }
        guard corpus.isEmpty != (inputs == nil) else { throw ValidationError("give either --corpus or --inputs") }
    }

    /// The samples of `model`'s pretraining objective in global order (at most `limit`), from the
    /// `fraction` of the corpus's documents chosen with `seed`: a masked LM's sample k has its mask
    /// drawn from (seed, k); a causal LM's labels are its ids.
    func samples(for model: any LanguageModel, tokenizer: TextTokenizer, seed: UInt64, fraction: Double = 1,
                 limit: Int?, log: Logger) throws -> [MaskedSample] {
        if let inputs {
            var all = try readMaskedSamples(URL(fileURLWithPath: inputs))
            if model.family.objective == .causalLM { all = try causal(all, file: inputs) }
            return limit.map { Array(all.prefix($0)) } ?? all
        }
        guard maxLength <= model.maxPositions else {
            throw ModelError("--max-length \(maxLength) exceeds the model's \(model.maxPositions) positions; pass --max-length \(model.maxPositions) or less")
        }
        let text = try Corpus(paths: corpus.map { URL(fileURLWithPath: $0) })
        if text.repairedLines > 0 { log.warning("\(text.repairedLines) line(s) were not valid UTF-8; bad bytes replaced with U+FFFD") }
        let kept = try Corpus.subsample(count: text.documents.count, fraction: fraction, seed: seed)
        log.info("corpus: \(text.documents.count) documents in \(text.files.count) file(s); using \(kept.count)")
        let label: (Encoding, Int) -> MaskedSample
        switch model.family.objective {
        case .maskedLM:
            guard let bert = tokenizer as? BertTokenizer else { throw ModelError("a masked LM needs a WordPiece tokenizer (vocab.txt)") }
            let masker = MLMMasker(tokenizer: bert, seed: seed)
            label = { masker.mask($0, sampleIndex: $1) }
        case .causalLM:
            label = { encoding, _ in MaskedSample(causal: encoding) }
        }
        var all: [MaskedSample] = []
        for index in kept {
            for encoding in encodings(text.documents[index], tokenizer) where !encoding.inputIds.isEmpty {
                if let limit, all.count >= limit { return all }
                all.append(label(encoding, all.count))
            }
        }
        return all
    }

    /// Causal-LM samples read from a file: labels must be the ids (or −100), as
    /// `DataCollatorForLanguageModeling(mlm=False)` writes them; the first token's label becomes −100,
    /// since no position predicts it (the loss is the same, and `predicted` counts what is scored).
    private func causal(_ samples: [MaskedSample], file: String) throws -> [MaskedSample] {
        try samples.enumerated().map { k, sample in
            if let t = sample.labels.indices.first(where: { sample.labels[$0] != -100 && sample.labels[$0] != sample.inputIds[$0] }) {
                throw ValidationError("\(file): sample \(k + 1): label \(sample.labels[t]) differs from input id "
                    + "\(sample.inputIds[t]) at position \(t); a causal LM reads labels = input_ids (a masked-LM dump?)")
            }
            var fixed = sample
            fixed.labels[0] = -100
            return fixed
        }
    }

    private func encodings(_ document: String, _ tokenizer: TextTokenizer) -> [Encoding] {
        guard chunk else { return [tokenizer.encode(document, pair: nil, maxLength: maxLength)] }
        guard let tokenizer = tokenizer as? BertTokenizer else {
            // No special tokens around a GPT-2 text: the pieces are plain runs of maxLength ids.
            let whole = tokenizer.encode(document, pair: nil, maxLength: nil)
            return stride(from: 0, to: max(whole.inputIds.count, 1), by: maxLength).map { start in
                let range = start..<min(whole.inputIds.count, start + maxLength)
                return Encoding(tokens: Array(whole.tokens[range]), inputIds: Array(whole.inputIds[range]),
                                tokenTypeIds: Array(repeating: 0, count: range.count),
                                attentionMask: Array(repeating: 1, count: range.count))
            }
        }
        let ids = tokenizer.ids(of: document)
        let body = maxLength - 2
        return stride(from: 0, to: max(ids.count, 1), by: body).map { start in
            let piece = Array(ids[start..<min(ids.count, start + body)])
            let all = [tokenizer.clsId] + piece + [tokenizer.sepId]
            return Encoding(tokens: all.map { tokenizer.token(of: $0) ?? "" }, inputIds: all,
                            tokenTypeIds: Array(repeating: 0, count: all.count), attentionMask: Array(repeating: 1, count: all.count))
        }
    }
}

/// Reads `--inputs`: one `{"input_ids", "attention_mask", "token_type_ids", "labels"}` object per line
/// (`attention_mask` and `token_type_ids` optional).
func readMaskedSamples(_ url: URL) throws -> [MaskedSample] {
    let data: Data
    do { data = try Data(contentsOf: url) } catch { throw ValidationError("\(url.path): cannot read (\(error.localizedDescription))") }
    var samples: [MaskedSample] = []
    for (number, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated()
    where !line.allSatisfy({ $0 == 32 || $0 == 13 }) {
        guard var sample = try? JSONDecoder().decode(PartialSample.self, from: Data(line)) else {
            throw ValidationError("\(url.path):\(number + 1): expected {\"input_ids\": [...], \"labels\": [...], ...}")
        }
        let n = sample.input_ids.count
        sample.attention_mask = sample.attention_mask ?? Array(repeating: 1, count: n)
        sample.token_type_ids = sample.token_type_ids ?? Array(repeating: 0, count: n)
        guard n > 0, sample.labels.count == n, sample.attention_mask!.count == n, sample.token_type_ids!.count == n else {
            throw ValidationError("\(url.path):\(number + 1): input_ids, labels, attention_mask and token_type_ids must have the same length")
        }
        samples.append(MaskedSample(inputIds: sample.input_ids, tokenTypeIds: sample.token_type_ids!,
                                    attentionMask: sample.attention_mask!, labels: sample.labels))
    }
    guard !samples.isEmpty else { throw ValidationError("\(url.path): no samples") }
    return samples
}

private struct PartialSample: Decodable {
    var input_ids: [Int32]
    var attention_mask: [Int32]?
    var token_type_ids: [Int32]?
    var labels: [Int32]
}

func writeMaskedSamples(_ samples: [MaskedSample], to url: URL) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    var text = Data()
    for sample in samples {
        text.append(try encoder.encode(sample))
        text.append(UInt8(ascii: "\n"))
    }
    try writeFileAtomically(text, to: url)
}

