import Crypto
import Foundation
import GuidedCompute
import GuidedModel

/// Everything that determines a Fisher run's result; a checkpoint resumes only into the same settings.
public struct FisherSettings: Codable, Equatable, Sendable {
    public var model: String
    public var checkpointSHA256: String
    public var inputs: [String]
    public var seed: UInt64
    public var fraction: Double
    public var maxSamples: Int?
    public var maxLength: Int
    public var chunk: Bool
    public var batchSize: Int
    public var shardIndex: Int
    public var shardCount: Int
    /// `PretrainingObjective.rawValue`: "mlm" (BERT) or "clm" (GPT-2).
    public var objective: String = "mlm"
    /// The processing order (`FisherEstimator.processingOrder`); a checkpoint of another order does not resume.
    public var order: String = "length-sorted-windows-\(FisherEstimator.orderWindow)"

    public init(model: String, checkpointSHA256: String, inputs: [String], seed: UInt64, fraction: Double,
                maxSamples: Int?, maxLength: Int, chunk: Bool, batchSize: Int, shardIndex: Int, shardCount: Int,
                objective: String = PretrainingObjective.maskedLM.rawValue) {
        self.objective = objective
        self.model = model
        self.checkpointSHA256 = checkpointSHA256
        self.inputs = inputs
        self.seed = seed
        self.fraction = fraction
        self.maxSamples = maxSamples
        self.maxLength = maxLength
        self.chunk = chunk
        self.batchSize = batchSize
        self.shardIndex = shardIndex
        self.shardCount = shardCount
    }
}

/// Where an estimation stands, for progress reports.
public struct FisherProgress: Sendable {
    public let done: Int
    public let total: Int
    public let skipped: Int
    public let lastLoss: Float?
}

/// The empirical Fisher of a model's pretraining objective (masked LM for BERT, causal LM for
/// GPT-2): the mean over samples of each sample's squared gradient, where a sample's loss is the
/// mean cross-entropy over its own predicted tokens.
///
/// Samples are processed in a fixed order (`processingOrder`: within each window of 256 samples,
/// longest first, so a batch pads little) in batches of at most `batchSize` (`batchEnds`: fewer where
/// that saves padding, for models that do not keep them full), gradients squared per sample by `FisherAccumulator`. The order depends only
/// on the samples, not on the batch size, and changes the sum only by float rounding. Every
/// `checkpointEvery` samples and on interruption the running sums are written to `checkpoint`
/// atomically; `resume` continues from there and gives the same file an uninterrupted run writes.
public final class FisherEstimator {
    public let model: any LanguageModel
    public let settings: FisherSettings
    public let samples: [MaskedSample]
    public let checkpoint: URL
    /// Indices into `samples` in the order they are processed.
    private let order: [Int]
    /// Where each batch ends in `order` (`batchEnds(lengths:batchSize:overheadTokens:)`).
    private let batchEnds: [Int]
    /// The batching rule, recorded in checkpoints: the batches depend on whether the model keeps
    /// them full and on the backend's cost per batch too, and a resumed run gives the uninterrupted
    /// run's bytes only with the same batches.
    private let batching: String
    public var checkpointEvery: Int = 1000

    /// Samples of this shard already processed (restored by `resume`).
    public private(set) var position = 0
    private(set) var counted = 0
    private(set) var skipped = 0
    private let accumulator: FisherAccumulator

    /// `model` in its pretraining role (`ModelRole.pretraining`): the Fisher is of its pretraining loss.
    public init(model: any LanguageModel, settings: FisherSettings, samples: [MaskedSample], checkpoint: URL) throws {
        guard !samples.isEmpty else { throw ModelError("no samples to estimate the Fisher from") }
        self.model = model
        self.settings = settings
        self.samples = samples
        order = Self.processingOrder(samples)
        let overhead = model.fillsFisherBatches ? Self.fullBatches : model.backend.batchOverheadTokens
        batchEnds = Self.batchEnds(lengths: order.map { samples[$0].inputIds.count }, batchSize: settings.batchSize,
                                   overheadTokens: overhead)
        batching = model.fillsFisherBatches
            ? "at most \(settings.batchSize), never cut (padding costs no arithmetic)"
            : "at most \(settings.batchSize), cut where padding costs over \(overhead) tokens"
        self.checkpoint = checkpoint
        accumulator = try FisherAccumulator(backend: model.backend, layout: model.layout, tiedTable: model.tiedTable)
    }

    /// A cost per batch that no padding outweighs: `batchEnds` then keeps every batch full.
    static let fullBatches = 1 << 20

    /// Samples per window of the length sort.
    public static let orderWindow = 256

    /// Indices of `samples`: window by window (`orderWindow` consecutive samples), each window's
    /// samples by length (attention mask), longest first, ties in their order. Batching neighbours
    /// of similar length removes most padding (on a corpus of paragraphs, about half the token rows)
    /// while a window still finishes before the next begins.
    public static func processingOrder(_ samples: [MaskedSample]) -> [Int] {
        let lengths = samples.map { $0.attentionMask.reduce(0) { $0 + Int($1) } }
        return stride(from: 0, to: samples.count, by: orderWindow).flatMap { start in
            (start..<min(samples.count, start + orderWindow)).sorted { lengths[$0] != lengths[$1] ? lengths[$0] > lengths[$1] : $0 < $1 }
        }
    }

    /// Where each batch ends in `order`: runs of at most `batchSize` samples, chosen (by dynamic
    /// programming) to minimise the tokens the batches compute — each padded to its longest sample —
    /// plus `overheadTokens` for every batch. Samples of one length fill every batch; where lengths
    /// spread, a long sample no longer pads a batch of short ones to its length. Like the order, the
    /// boundaries change the sum only by float rounding; they depend on the lengths, the batch size
    /// and the cost per batch alone (a checkpoint records the last two: `batching`).
    public static func batchEnds(lengths: [Int], batchSize: Int, overheadTokens: Int) -> [Int] {
        precondition(batchSize >= 1 && overheadTokens >= 0)
        let n = lengths.count
        // Over suffixes, so that ties go to larger batches first (full batches, the remainder
        // last, as fixed batching had them): cost[i] is the least work for samples i..<n, and
        // size[i] the size of the first batch that reaches it.
        var cost = [Int](repeating: 0, count: n + 1), size = [Int](repeating: 0, count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            cost[i] = .max
            var longest = 0
            for s in 1...min(batchSize, n - i) {
                longest = max(longest, lengths[i + s - 1])
                let candidate = s * longest + overheadTokens + cost[i + s]
                if candidate <= cost[i] { (cost[i], size[i]) = (candidate, s) }
            }
        }
        var ends: [Int] = []
        var i = 0
        while i < n { i += size[i]; ends.append(i) }
        return ends
    }

    /// The first batch end past `position` (a resumed run starts at a batch end; the last end is
    /// the sample count).
    private func nextBatchEnd(after position: Int) -> Int {
        var low = 0, high = batchEnds.count - 1
        while low < high {
            let middle = (low + high) / 2
            if batchEnds[middle] > position { high = middle } else { low = middle + 1 }
        }
        return batchEnds[low]
    }

    /// Restores the running sums from `checkpoint`; an error if it belongs to other settings.
    public func resume() throws {
        let file = try SafeTensorsFile(contentsOf: checkpoint)
        guard let json = file.metadata["settings"],
              let saved = try? JSONDecoder().decode(FisherSettings.self, from: Data(json.utf8)) else {
            throw ModelError("\(checkpoint.path): not a guided fisher checkpoint")
        }
        guard saved == settings else {
            throw ModelError("\(checkpoint.path) was written with other settings (\(json)); rerun without --resume or with the same flags")
        }
        guard file.metadata["batching"] == batching else {
            throw ModelError("\(checkpoint.path) was written with other batches (\(file.metadata["batching"] ?? "fixed, by an older guided")) "
                             + "than this backend makes (\(batching)); resume on the same kind of backend, or rerun without --resume")
        }
        guard let p = Int(file.metadata["position"] ?? ""), let c = Int(file.metadata["samples"] ?? ""),
              let s = Int(file.metadata["skipped"] ?? ""), p <= samples.count else {
            throw ModelError("\(checkpoint.path): damaged checkpoint metadata")
        }
        let sums = try file.floats("fisher_sums")
        guard sums.count == model.layout.totalCount else { throw ModelError("\(checkpoint.path): sums do not fit the model") }
        try model.backend.upload(sums, to: accumulator.fisher)
        (position, counted, skipped, scannedAt) = (p, c, s, p)
    }

    /// Runs to the end or until `shouldStop` says so (then checkpoints and returns false).
    public func run(progress: (FisherProgress) -> Void, shouldStop: () -> Bool) throws -> Bool {
        var sinceCheckpoint = 0
        while position < samples.count {
            if shouldStop() {
                try writeCheckpoint()
                return false
            }
            let end = nextBatchEnd(after: position)
            let loss = try step(order[position..<end].map { samples[$0] })
            sinceCheckpoint += end - position
            position = end
            if position - scannedAt >= Self.scanEvery || position == samples.count { try scanSums() }
            progress(FisherProgress(done: position, total: samples.count, skipped: skipped, lastLoss: loss))
            if sinceCheckpoint >= checkpointEvery && position < samples.count {
                try writeCheckpoint()
                sinceCheckpoint = 0
            }
        }
        return true
    }

    private func step(_ batch: [MaskedSample]) throws -> Float? {
        let (tokenBatch, labels) = TokenBatch.padded(batch, padId: model.paddingId)
        let pass: any LossPass
        do {
            pass = try model.pretrainingStep(tokenBatch, labels: labels, regularization: nil, reduction: .perSampleMean,
                                             backwardInto: accumulator)
        } catch let error as ModelError {
            // The model stops at a NaN or Inf loss (rows of this batch); say which samples they are.
            throw ModelError("samples \(position)..<\(position + batch.count) (in processing order): \(error.description)")
        }
        let used = pass.sampleLosses.compactMap { $0 }.count
        skipped += batch.count - used
        counted += used
        return used > 0 ? pass.loss : nil
    }

    /// Samples between scans of the sums for NaN or Inf: a scan reads the whole buffer, which
    /// after every batch of short samples cost as much as a tenth of the run.
    static let scanEvery = 64
    /// Where the last scan found the sums finite.
    private var scannedAt = 0

    /// An error if the sums hold NaN or Inf (a gradient overflowed with a finite loss).
    private func scanSums() throws {
        if try model.backend.countNonFinite(accumulator.fisher) > 0 {
            throw ModelError("the Fisher sums became NaN or Inf at samples \(scannedAt)..<\(position) (in processing order)")
        }
        scannedAt = position
    }

    /// Writes the running sums and position atomically (never sums that hold NaN or Inf).
    public func writeCheckpoint() throws {
        try scanSums()
        let sums = try model.backend.download(accumulator.fisher)
        try SafeTensorsWriter.write([("fisher_sums", [sums.count], sums)], metadata: [
            "settings": String(decoding: try JSONEncoder().encode(settings), as: UTF8.self),
            "position": String(position), "samples": String(counted), "skipped": String(skipped), "batching": batching,
        ], to: checkpoint)
    }

    /// The Fisher file: the mean over counted samples, one tensor per parameter under the names the
    /// checkpoint uses (`prefixed`: whether its base names carry `bert.`/`transformer.`).
    public func writeResult(to url: URL, prefixed: Bool) throws {
        guard counted > 0 else {
            throw ModelError("no sample had a predicted token (\(skipped) skipped): nothing to average; use longer texts or more samples")
        }
        // One host copy: the sums, scaled in place and written straight from the buffer.
        var means = try model.backend.download(accumulator.fisher)
        let scale = 1 / Float(counted)
        for i in means.indices { means[i] *= scale }
        let a = model.architecture
        let entries = a.layout.slots.map { slot in
            (name: a.isHeadParameter(slot.name) || !prefixed ? slot.name : a.basePrefix + slot.name, shape: slot.shape)
        }
        var metadata: [String: String] = [
            "samples": String(counted), "skipped": String(skipped), "seed": String(settings.seed),
            "fraction": String(settings.fraction), "max_length": String(settings.maxLength), "objective": settings.objective,
            "model": settings.model, "checkpoint_sha256": settings.checkpointSHA256,
            "inputs": settings.inputs.joined(separator: ","), "chunk": String(settings.chunk),
            "shard": "\(settings.shardIndex)/\(settings.shardCount)", "generator": "guided fisher",
        ]
        if let m = settings.maxSamples { metadata["max_samples"] = String(m) }
        try SafeTensorsWriter.write(contiguous: entries, values: means, metadata: metadata, to: url)
    }

    public var samplesCounted: Int { counted }
    public var samplesSkipped: Int { skipped }
}

/// The SHA-256 of a file, hex, read in 16 MiB pieces (what `sha256sum` prints).
public func fileSHA256(_ file: URL) throws -> String {
    let handle: FileHandle
    do { handle = try FileHandle(forReadingFrom: file) } catch {
        throw ModelError("\(file.path): cannot read (\(error.localizedDescription))")
    }
    defer { try? handle.close() }
    var hasher = SHA256()
    while let chunk = try handle.read(upToCount: 1 << 24), !chunk.isEmpty { hasher.update(data: chunk) }
    return hasher.finalize().map { String(format: "%02x", $0) }.joined()
}
