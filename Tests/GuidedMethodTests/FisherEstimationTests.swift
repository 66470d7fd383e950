import Foundation
import GuidedCompute
import GuidedModel
import Testing
@testable import GuidedMethod

/// `guided fisher`'s pipeline: corpus, subsample, MLM masking, batched estimation, checkpoints.
/// (The Fisher values themselves are golden-tested against transformers in BertGoldenTests.)
@Suite(.serialized) struct FisherEstimationTests {
    /// The tiny BERT checkpoint the model tests use.
    static let tinyBert = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../GuidedModelTests/Fixtures/tiny-bert").standardizedFileURL

    static let texts = [
        "the cat sat on the mat and the dog sat on the log",
        "where is the house ? it is in the city near the river",
        "time and time again the people came back to the same place",
        "a b c d e f g h i j k l m n o p q r s t u v w x y z",
        "he said that she would come home soon after the war",
        "it was the best of times , it was the worst of times",
        "no",
    ]

    static func samples(seed: UInt64 = 3) throws -> [MaskedSample] {
        let tokenizer = try BertTokenizer(folder: tinyBert)
        let masker = MLMMasker(tokenizer: tokenizer, seed: seed)
        return texts.enumerated().map { masker.mask(tokenizer.encode($1, maxLength: 16), sampleIndex: $0) }
    }

    static func estimator(_ samples: [MaskedSample], batchSize: Int, backend: Backend = CPUBackend(),
                          checkpoint: URL) throws -> FisherEstimator {
        let (model, _) = try BertCheckpoint.load(tinyBert, head: .maskedLM, backend: backend)
        let settings = FisherSettings(model: "tiny", checkpointSHA256: "x", inputs: ["t"], seed: 3, fraction: 1,
                                      maxSamples: nil, maxLength: 16, chunk: false, batchSize: batchSize,
                                      shardIndex: 0, shardCount: 1)
        return try FisherEstimator(model: model, settings: settings, samples: samples, checkpoint: checkpoint)
    }

    static func temporary(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("guided-\(name)-\(UUID().uuidString).safetensors")
    }

    /// The checkpoint a run at batch size 2 writes when stopped after its first batch.
    static func checkpointAfterOneBatch(_ samples: [MaskedSample], _ name: String) throws -> URL {
        let checkpoint = temporary(name)
        let first = try estimator(samples, batchSize: 2, checkpoint: checkpoint)
        var batches = 0
        #expect(try !first.run(progress: { _ in batches += 1 }, shouldStop: { batches >= 1 }))
        return checkpoint
    }

    static func result(_ e: FisherEstimator) throws -> [Float] {
        let url = temporary("result")
        defer { try? FileManager.default.removeItem(at: url) }
        try e.writeResult(to: url, prefixed: true)
        let file = try SafeTensorsFile(contentsOf: url)
        return try file.names.flatMap { try file.floats($0) }
    }

    // MARK: Masking

    @Test func maskingFollowsTheCollatorsProportions() throws {
        let tokenizer = try BertTokenizer(folder: Self.tinyBert)
        let masker = MLMMasker(tokenizer: tokenizer, seed: 11)
        let encoding = tokenizer.encode(Array(repeating: "the cat sat on the mat", count: 40).joined(separator: " "), maxLength: 256)
        var selected = 0, masked = 0, kept = 0, total = 0
        for index in 0..<40 {
            let s = masker.mask(encoding, sampleIndex: index)
            for t in s.labels.indices {
                if tokenizer.specialIds.contains(encoding.inputIds[t]) {
                    #expect(s.labels[t] == -100 && s.inputIds[t] == encoding.inputIds[t], "specials are never selected")
                    continue
                }
                total += 1
                guard s.labels[t] != -100 else { #expect(s.inputIds[t] == encoding.inputIds[t]); continue }
                #expect(s.labels[t] == encoding.inputIds[t])
                selected += 1
                if s.inputIds[t] == tokenizer.maskId { masked += 1 } else if s.inputIds[t] == encoding.inputIds[t] { kept += 1 }
            }
        }
        // ~10,000 tokens: binomial standard deviations are ~0.4% of the selection rate, ~1% of the splits.
        let rate = Double(selected) / Double(total)
        #expect(abs(rate - 0.15) < 0.015, "selected \(rate)")
        #expect(abs(Double(masked) / Double(selected) - 0.8) < 0.04, "masked \(masked)/\(selected)")
        #expect(Double(kept) / Double(selected) > 0.07, "kept \(kept)/\(selected) (10% plus random draws of the same id)")
    }

    @Test func masksDependOnlyOnSeedAndSampleIndex() throws {
        let tokenizer = try BertTokenizer(folder: Self.tinyBert)
        let encoding = tokenizer.encode(Self.texts[0], maxLength: 32)
        let a = MLMMasker(tokenizer: tokenizer, seed: 5), b = MLMMasker(tokenizer: tokenizer, seed: 6)
        #expect(a.mask(encoding, sampleIndex: 4) == a.mask(encoding, sampleIndex: 4))
        let differ = (0..<20).contains { a.mask(encoding, sampleIndex: $0) != b.mask(encoding, sampleIndex: $0) }
        #expect(differ, "another seed draws other masks")
        #expect((1..<20).contains { a.mask(encoding, sampleIndex: $0) != a.mask(encoding, sampleIndex: 0) })
    }

    // MARK: Estimation

    /// Any batch size gives the Fisher of batch size 1, up to float rounding: padding contributes
    /// nothing and each sample's gradient is squared on its own.
    @Test(arguments: [2, 3, 7])
    func batchedEqualsBatchSizeOne(_ batchSize: Int) throws {
        let samples = try Self.samples()
        let one = try Self.estimator(samples, batchSize: 1, checkpoint: Self.temporary("c1"))
        #expect(try one.run(progress: { _ in }, shouldStop: { false }))
        let batched = try Self.estimator(samples, batchSize: batchSize, checkpoint: Self.temporary("cb"))
        #expect(try batched.run(progress: { _ in }, shouldStop: { false }))
        #expect(one.samplesCounted == batched.samplesCounted && one.samplesSkipped == batched.samplesSkipped)
        let a = try Self.result(one), b = try Self.result(batched)
        let scale = a.map(abs).max() ?? 0
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-5 * scale, "batch \(batchSize): |Δ| \(worst) vs max \(scale)")
    }

    /// Samples are taken longest first within windows of 256, ties in order, whatever the batch size.
    @Test func processingOrderSortsByLengthWithinWindows() {
        let lengths = (0..<600).map { 3 + ($0 * 37) % 50 }
        let samples = lengths.map { n in
            MaskedSample(inputIds: Array(repeating: 5, count: n), tokenTypeIds: Array(repeating: 0, count: n),
                         attentionMask: Array(repeating: 1, count: n - 1) + [0], labels: Array(repeating: -100, count: n))
        }
        let order = FisherEstimator.processingOrder(samples)
        #expect(order.sorted() == Array(0..<600))
        for window in [0..<256, 256..<512, 512..<600] {
            let part = Array(order[window])
            #expect(Set(part) == Set(window))
            for (a, b) in zip(part, part.dropFirst()) {
                #expect(lengths[a] > lengths[b] || (lengths[a] == lengths[b] && a < b))
            }
        }
    }

    /// Batches never exceed the batch size, fill up where lengths are equal, and have the least
    /// padded work plus per-batch overhead of any split into consecutive runs (brute force).
    @Test func batchEndsMinimiseTokensPlusOverhead() {
        #expect(FisherEstimator.batchEnds(lengths: Array(repeating: 128, count: 20), batchSize: 8, overheadTokens: 32) == [8, 16, 20])
        #expect(FisherEstimator.batchEnds(lengths: [], batchSize: 8, overheadTokens: 32) == [])
        // With no cost per batch every split of equal lengths ties: the larger batches win.
        #expect(FisherEstimator.batchEnds(lengths: [5, 5, 5, 5, 5], batchSize: 2, overheadTokens: 0) == [2, 4, 5])
        // One long sample and short ones: the long one goes alone instead of padding seven.
        #expect(FisherEstimator.batchEnds(lengths: [128] + Array(repeating: 10, count: 7), batchSize: 8, overheadTokens: 32) == [1, 8])
        // A GPU's overhead: the fewest batches, and the least padding among those.
        #expect(FisherEstimator.batchEnds(lengths: [128] + Array(repeating: 10, count: 9), batchSize: 8, overheadTokens: 1 << 20) == [2, 10])

        func work(_ lengths: [Int], _ ends: [Int], _ overhead: Int) -> Int {
            zip([0] + ends, ends).reduce(0) { $0 + ($1.1 - $1.0) * lengths[$1.0..<$1.1].max()! + overhead }
        }
        /// The least work of any split, trying every set of cut points.
        func bruteForce(_ lengths: [Int], _ batchSize: Int, _ overhead: Int) -> Int {
            let n = lengths.count
            var best = Int.max
            for cuts in 0..<(1 << (n - 1)) {
                let ends = (1..<n).filter { cuts & (1 << ($0 - 1)) != 0 } + [n]
                guard zip([0] + ends, ends).allSatisfy({ $1 - $0 <= batchSize }) else { continue }
                best = min(best, work(lengths, ends, overhead))
            }
            return best
        }
        var rng = SplitMix64(seed: 11)
        for trial in 0..<40 {
            let n = 1 + trial % 10, batchSize = 1 + trial % 4, overhead = [0, 8, 32, 200][trial % 4]
            let lengths = (0..<n).map { _ in 1 + Int(rng.next() % 128) }
            let ends = FisherEstimator.batchEnds(lengths: lengths, batchSize: batchSize, overheadTokens: overhead)
            #expect(ends.last == n && zip([0] + ends, ends).allSatisfy { $0 < $1 && $1 - $0 <= batchSize })
            #expect(work(lengths, ends, overhead) == bruteForce(lengths, batchSize, overhead), "\(lengths) batch \(batchSize)")
        }
    }

    /// A batch with a NaN loss stops the run, naming its samples; sums that turn non-finite with
    /// finite losses (here: restored from a damaged checkpoint) are caught by the periodic scan,
    /// at the latest at the end, and never written to a checkpoint.
    @Test func nonFiniteLossesAndSumsAreErrors() throws {
        let samples = try Self.samples()
        let poisoned = try Self.estimator(samples, batchSize: 2, checkpoint: Self.temporary("nan"))
        let classifier = "cls.predictions.bias"
        var bias = try poisoned.model.parameter(classifier)
        bias[0] = .nan
        try poisoned.model.setParameter(classifier, bias)
        #expect(throws: ModelError.self) { try poisoned.run(progress: { _ in }, shouldStop: { false }) }
        do { _ = try poisoned.run(progress: { _ in }, shouldStop: { false }) } catch {
            #expect("\(error)".contains("samples 0..<") && "\(error)".contains("loss is nan"))
        }

        let checkpoint = try Self.checkpointAfterOneBatch(samples, "damaged")
        defer { try? FileManager.default.removeItem(at: checkpoint) }
        let file = try SafeTensorsFile(contentsOf: checkpoint)
        var sums = try file.floats("fisher_sums")
        sums[sums.count / 2] = .infinity
        try SafeTensorsWriter.write([("fisher_sums", [sums.count], sums)], metadata: file.metadata, to: checkpoint)
        let resumed = try Self.estimator(samples, batchSize: 2, checkpoint: checkpoint)
        try resumed.resume()
        let start = resumed.position
        do {
            _ = try resumed.run(progress: { _ in }, shouldStop: { false })
            Issue.record("a run over non-finite sums finished")
        } catch {
            #expect("\(error)".contains("became NaN or Inf at samples \(start)..<\(samples.count)"))
        }
        #expect(throws: ModelError.self) { try resumed.writeCheckpoint() }
    }

    /// Interrupted after two batches and resumed in a new estimator: the same bytes as one run.
    @Test func resumeGivesTheUninterruptedResult() throws {
        let samples = try Self.samples()
        let whole = try Self.estimator(samples, batchSize: 2, checkpoint: Self.temporary("w"))
        #expect(try whole.run(progress: { _ in }, shouldStop: { false }))

        let checkpoint = Self.temporary("partial")
        defer { try? FileManager.default.removeItem(at: checkpoint) }
        let first = try Self.estimator(samples, batchSize: 2, checkpoint: checkpoint)
        var batches = 0
        let finished = try first.run(progress: { _ in batches += 1 }, shouldStop: { batches >= 2 })
        #expect(!finished && first.position >= 2 && first.position <= 4)
        let second = try Self.estimator(samples, batchSize: 2, checkpoint: checkpoint)
        try second.resume()
        #expect(second.position == first.position)
        #expect(try second.run(progress: { _ in }, shouldStop: { false }))
        #expect(try Self.result(second) == Self.result(whole))
        #expect(second.samplesCounted == whole.samplesCounted)
    }

    /// Shards 0/3, 1/3, 2/3 merged by count-weighted mean equal the unsharded run.
    @Test func mergedShardsEqualTheWholeRun() throws {
        let samples = try Self.samples()
        let whole = try Self.estimator(samples, batchSize: 2, checkpoint: Self.temporary("s"))
        _ = try whole.run(progress: { _ in }, shouldStop: { false })
        var files: [FisherFile] = []
        var urls: [URL] = []
        defer { for url in urls { try? FileManager.default.removeItem(at: url) } }
        for index in 0..<3 {
            let part = try Self.estimator(samples.shard(index, of: 3), batchSize: 2, checkpoint: Self.temporary("p"))
            _ = try part.run(progress: { _ in }, shouldStop: { false })
            let url = Self.temporary("shard\(index)")
            urls.append(url)
            try part.writeResult(to: url, prefixed: true)
            files.append(try FisherFile(contentsOf: url))
        }
        #expect(samples.shard(0, of: 3).count + samples.shard(1, of: 3).count + samples.shard(2, of: 3).count == samples.count)
        let merged = try FisherFile.merge(files)
        #expect(merged.samples == whole.samplesCounted)
        let expected = try Self.result(whole)
        let got = try merged.names.flatMap { try merged.values($0) }
        let scale = expected.map(abs).max() ?? 0
        let worst = zip(expected, got).map { abs($0 - $1) }.max() ?? 0
        #expect(got.count == expected.count && worst <= 1e-5 * scale, "|Δ| \(worst) vs max \(scale)")
    }

    /// Batches depend on the backend's cost per batch: a checkpoint made with other batches (another
    /// kind of backend, or an older guided's fixed batches) would not resume to the same bytes.
    @Test func resumeRefusesACheckpointOfOtherBatches() throws {
        let samples = try Self.samples()
        let checkpoint = try Self.checkpointAfterOneBatch(samples, "batching")
        defer { try? FileManager.default.removeItem(at: checkpoint) }
        let file = try SafeTensorsFile(contentsOf: checkpoint)
        #expect(file.metadata["batching"]?.contains("at most 2") == true)
        for batching in ["at most 2, cut where padding costs over 7 tokens", nil] {
            var metadata = file.metadata
            metadata["batching"] = batching
            let sums = try file.floats("fisher_sums")
            try SafeTensorsWriter.write([("fisher_sums", [sums.count], sums)], metadata: metadata, to: checkpoint)
            let resumed = try Self.estimator(samples, batchSize: 2, checkpoint: checkpoint)
            #expect(throws: ModelError.self) { try resumed.resume() }
        }
    }

    @Test func resumeRefusesACheckpointOfOtherSettings() throws {
        let samples = try Self.samples()
        let checkpoint = Self.temporary("other")
        defer { try? FileManager.default.removeItem(at: checkpoint) }
        let first = try Self.estimator(samples, batchSize: 2, checkpoint: checkpoint)
        _ = try first.run(progress: { _ in }, shouldStop: { true })
        let other = try Self.estimator(samples, batchSize: 3, checkpoint: checkpoint)
        #expect { try other.resume() } throws: { "\($0)".contains("other settings") }
    }

    @Test func backendsAgree() throws {
        var results: [[Float]] = []
        for backend in [CPUBackend(), try OpenCLBackend()] as [Backend] {
            let e = try Self.estimator(try Self.samples(), batchSize: 3, backend: backend, checkpoint: Self.temporary("b"))
            _ = try e.run(progress: { _ in }, shouldStop: { false })
            results.append(try Self.result(e))
        }
        let scale = results[0].map(abs).max() ?? 0
        let worst = zip(results[0], results[1]).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-4 * scale, "|Δ| \(worst) vs max \(scale)")
    }

    @Test func resultCarriesNamesAndMetadata() throws {
        let e = try Self.estimator(try Self.samples(), batchSize: 4, checkpoint: Self.temporary("m"))
        _ = try e.run(progress: { _ in }, shouldStop: { false })
        let url = Self.temporary("meta")
        defer { try? FileManager.default.removeItem(at: url) }
        try e.writeResult(to: url, prefixed: true)
        let file = try SafeTensorsFile(contentsOf: url)
        let checkpoint = try CheckpointFolder(url: Self.tinyBert)
        #expect(Set(file.names) == Set(checkpoint.tensorNames), "one tensor per parameter under the checkpoint's names")
        #expect(file.metadata["samples"] == String(e.samplesCounted))
        #expect(file.metadata["skipped"] == String(e.samplesSkipped) && e.samplesSkipped >= 1, "\"no\" has nothing to predict")
        #expect(file.metadata["objective"] == "mlm" && file.metadata["seed"] == "3" && file.metadata["max_length"] == "16")
        // The pad row is never looked up, but the tied decoder still gives it a gradient (as in PyTorch).
        #expect(try file.floats("bert.embeddings.word_embeddings.weight").allSatisfy { $0 >= 0 && $0.isFinite })
    }

    // MARK: Corpus

    @Test func corpusFormatsAndErrors() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("guided-corpus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let text = folder.appendingPathComponent("a.txt"), jsonl = folder.appendingPathComponent("b.jsonl")
        try Data("first line\n\n   \nsecond \u{FF}line\r\n".utf8 + [0xFF] + Data(" bad byte\n".utf8)).write(to: text)
        try Data("{\"text\": \"from json\"}\n{\"text\": \"  \"}\n".utf8).write(to: jsonl)
        let corpus = try Corpus(paths: [folder])
        #expect(corpus.documents.count == 4 && corpus.documents[3] == "from json")
        #expect(corpus.repairedLines == 1 && corpus.documents[2].hasPrefix("\u{FFFD}"))

        let bad = folder.appendingPathComponent("c.jsonl")
        try Data("{\"text\": \"ok\"}\n{\"body\": 1}\n".utf8).write(to: bad)
        #expect { _ = try Corpus(paths: [bad]) } throws: { "\($0)".contains("c.jsonl:2") && "\($0)".contains("\"text\"") }
        #expect { _ = try Corpus(paths: [folder.appendingPathComponent("missing.txt")]) } throws: { "\($0)".contains("missing.txt") }
        let empty = folder.appendingPathComponent("empty.txt")
        try Data("\n  \n".utf8).write(to: empty)
        #expect { _ = try Corpus(paths: [empty]) } throws: { "\($0)".contains("no usable text") }
    }

    @Test func subsampleIsSeededAndSized() throws {
        let a = try Corpus.subsample(count: 1000, fraction: 0.05, seed: 1)
        #expect(a.count == 50 && a == a.sorted() && Set(a).count == 50)
        #expect(try Corpus.subsample(count: 1000, fraction: 0.05, seed: 1) == a)
        #expect(try Corpus.subsample(count: 1000, fraction: 0.05, seed: 2) != a)
        #expect(try Corpus.subsample(count: 10, fraction: 0.001, seed: 1).count == 1, "at least one document")
        #expect(throws: ModelError.self) { try Corpus.subsample(count: 10, fraction: 0, seed: 1) }
        #expect(throws: ModelError.self) { try Corpus.subsample(count: 10, fraction: 1.5, seed: 1) }
    }
}

/// Causal-LM samples and the JSON form of samples.
@Suite struct PretrainingSampleTests {
    @Test func causalSampleLabelsEveryTokenAfterTheFirst() {
        let encoding = Encoding(tokens: ["a", "b", "c", "<pad>"], inputIds: [5, 6, 7, 0], tokenTypeIds: [0, 0, 0, 0],
                                attentionMask: [1, 1, 1, 0])
        let sample = MaskedSample(causal: encoding)
        #expect(sample.inputIds == [5, 6, 7, 0])
        #expect(sample.labels == [-100, 6, 7, -100])
        #expect(sample.predicted == 2)
    }

    @Test func tokenTypeIdsAreWrittenOnlyWhenNotAllZero() throws {
        let causal = MaskedSample(inputIds: [5, 6], tokenTypeIds: [0, 0], attentionMask: [1, 1], labels: [-100, 6])
        let text = String(decoding: try JSONEncoder().encode(causal), as: UTF8.self)
        #expect(!text.contains("token_type_ids"))
        #expect(try JSONDecoder().decode(MaskedSample.self, from: Data(text.utf8)) == causal)
        let pair = MaskedSample(inputIds: [2, 5, 3, 6, 3], tokenTypeIds: [0, 0, 0, 1, 1], attentionMask: [1, 1, 1, 1, 1],
                                labels: [-100, 5, -100, -100, -100])
        let pairText = String(decoding: try JSONEncoder().encode(pair), as: UTF8.self)
        #expect(pairText.contains("\"token_type_ids\":[0,0,0,1,1]"))
        #expect(try JSONDecoder().decode(MaskedSample.self, from: Data(pairText.utf8)) == pair)
    }
}
