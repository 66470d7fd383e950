import Foundation
import GuidedCompute
import GuidedModel
import Testing
@testable import GuidedMethod

/// `guided landscape`: grid, directions, which parameters move, the evaluator and resuming.
@Suite(.serialized) struct LandscapeTests {
    static func model(_ backend: Backend = CPUBackend()) throws -> BertModel {
        try BertCheckpoint.load(FisherEstimationTests.tinyBert, head: .maskedLM, backend: backend).model
    }

    static func norm(_ values: ArraySlice<Float>) -> Double {
        values.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    }

    @Test func gridIsLinspaceAndRefusesEmptyRanges() throws {
        let grid = try LandscapeGrid(count: 5, range: -1...1, oneDimensional: false)
        #expect(grid.alphas == [-1, -0.5, 0, 0.5, 1] && grid.betas == grid.alphas && !grid.isOneDimensional)
        let slice = try LandscapeGrid(count: 3, range: -1.5...1.5, oneDimensional: true)
        #expect(slice.betas == [0] && slice.isOneDimensional && slice.alphas == [-1.5, 0, 1.5])
        #expect(throws: ModelError.self) { try LandscapeGrid(count: 1, range: -1...1, oneDimensional: false) }
        #expect(throws: ModelError.self) { try LandscapeGrid(count: 4, range: 1...1, oneDimensional: false) }
    }

    @Test func directionsAreNormalisedMatricesAndZeroVectors() throws {
        let model = try Self.model()
        let layout = model.layout
        let weights = try model.backend.download(model.parameters)
        let layer = LandscapeDirections.random(layout: layout, parameters: weights, seed: 7, normalization: .layer)
        let filter = LandscapeDirections.random(layout: layout, parameters: weights, seed: 7, normalization: .filter)
        for slot in layout.slots {
            let range = slot.offset..<(slot.offset + slot.count)
            if slot.shape.count < 2 {
                #expect(layer.delta[range].allSatisfy { $0 == 0 } && layer.eta[range].allSatisfy { $0 == 0 })
                continue
            }
            let w = Self.norm(weights[range])
            #expect(abs(Self.norm(layer.delta[range]) - w) <= 1e-4 * w, "\(slot.name)")
            #expect(abs(Self.norm(layer.eta[range]) - w) <= 1e-4 * w, "\(slot.name)")
            let row = slot.shape.dropFirst().reduce(1, *)
            for start in stride(from: slot.offset, to: slot.offset + slot.count, by: row) {
                let rw = Self.norm(weights[start..<(start + row)])
                #expect(abs(Self.norm(filter.delta[start..<(start + row)]) - rw) <= 1e-4 * max(rw, 1e-30))
            }
        }
        // δ and η differ, and the draw depends only on the seed.
        #expect(layer.delta != layer.eta)
        let again = LandscapeDirections.random(layout: layout, parameters: weights, seed: 7, normalization: .layer)
        #expect(again.delta == layer.delta && again.eta == layer.eta)
        #expect(LandscapeDirections.random(layout: layout, parameters: weights, seed: 8, normalization: .layer).delta != layer.delta)
    }

    @Test func directionsRoundTripThroughSafetensorsAndBadFilesAreNamed() throws {
        let model = try Self.model()
        let directions = LandscapeDirections.random(layout: model.layout, parameters: try model.backend.download(model.parameters),
                                                    seed: 1, normalization: .filter)
        let url = FisherEstimationTests.temporary("directions")
        defer { try? FileManager.default.removeItem(at: url) }
        try directions.write(to: url, architecture: model.architecture)
        let read = try LandscapeDirections(contentsOf: url, architecture: model.architecture)
        #expect(read.delta == directions.delta && read.eta == directions.eta)
        #expect(read.normalization == .filter && read.seed == 1)

        let query = model.layout["encoder.layer.0.attention.self.query.weight"]!
        try SafeTensorsWriter.write([("delta.bert.encoder.layer.0.attention.self.query.weight", [query.shape[0] + 1, query.shape[1]],
                                      [Float](repeating: 0, count: (query.shape[0] + 1) * query.shape[1]))], metadata: [:], to: url)
        let shapeError = #expect(throws: ModelError.self) { try LandscapeDirections(contentsOf: url, architecture: model.architecture) }
        #expect(shapeError?.description.contains("delta.bert.encoder.layer.0.attention.self.query.weight has shape") == true)
        try SafeTensorsWriter.write([("gamma.x", [1], [0])], metadata: [:], to: url)
        let nameError = #expect(throws: ModelError.self) { try LandscapeDirections(contentsOf: url, architecture: model.architecture) }
        #expect(nameError?.description.contains("gamma.x") == true)
    }

    /// A Fisher over the layout whose tensor means rank in a known order: tensor t's values are t+1 (scaled per element).
    static func rankedFisher(_ layout: ParameterLayout) -> [Float] {
        var values = [Float](repeating: 0, count: layout.totalCount)
        for (t, slot) in layout.slots.enumerated() {
            for k in 0..<slot.count { values[slot.offset + k] = Float(t + 1) * (1 + Float(k % 5) * 0.01) }
        }
        return values
    }

    @Test func selectionsMoveTheRightShare() throws {
        let layout = try Self.model().layout
        let fisher = Self.rankedFisher(layout)
        let all = ParameterSelection.all(layout: layout)
        let movable = layout.slots.filter { $0.shape.count >= 2 }.reduce(0) { $0 + $1.count }
        #expect(all.moved == movable && all.share == 1 && all.name == "all")

        // By element: exactly ⌈f·n⌉, and every moved value ranks above (top) / below (bottom) every unmoved one.
        for set in [PerturbedSet.top, .bottom] {
            let selection = try ParameterSelection.select(set, fraction: 0.3, unit: .element, layout: layout, fisher: fisher, seed: 0)
            let target = TopSelection.elementCount(percent: 30, of: movable)
            #expect(selection.moved == target && selection.mask.filter { $0 }.count == target)
            var moved: [Float] = [], kept: [Float] = []
            for slot in layout.slots where slot.shape.count >= 2 {
                for i in slot.offset..<(slot.offset + slot.count) { (selection.mask[i] ? { moved.append(fisher[i]) } : { kept.append(fisher[i]) })() }
            }
            if set == .top { #expect(moved.min()! >= kept.max()!) } else { #expect(moved.max()! <= kept.min()!) }
            #expect(selection.name == "\(set.rawValue)-30pct-element")
        }
        // Vectors never move.
        let top = try ParameterSelection.select(.top, fraction: 1, unit: .element, layout: layout, fisher: fisher, seed: 0)
        for slot in layout.slots where slot.shape.count < 2 { #expect(!top.mask[slot.offset]) }

        // By tensor: a prefix of the ranking by mean, within the target; top takes the last-declared matrices here.
        let byTensor = try ParameterSelection.select(.top, fraction: 0.5, unit: .tensor, layout: layout, fisher: fisher, seed: 0)
        #expect(byTensor.moved <= TopSelection.elementCount(percent: 50, of: movable) && byTensor.moved > 0)
        let movedSlots = layout.slots.filter { $0.shape.count >= 2 && byTensor.mask[$0.offset] }
        let keptSlots = layout.slots.filter { $0.shape.count >= 2 && !byTensor.mask[$0.offset] }
        let index = Dictionary(uniqueKeysWithValues: layout.slots.enumerated().map { ($1.name, $0) })
        #expect(movedSlots.map { index[$0.name]! }.min()! > keptSlots.map { index[$0.name]! }.max()!)
        for slot in movedSlots { #expect(byTensor.mask[slot.offset..<(slot.offset + slot.count)].allSatisfy { $0 }) }

        // Random: exact count, seeded.
        let r1 = try ParameterSelection.select(.random, fraction: 0.25, unit: .element, layout: layout, fisher: nil, seed: 4)
        let r2 = try ParameterSelection.select(.random, fraction: 0.25, unit: .element, layout: layout, fisher: nil, seed: 4)
        let r3 = try ParameterSelection.select(.random, fraction: 0.25, unit: .element, layout: layout, fisher: nil, seed: 5)
        #expect(r1.mask == r2.mask && r1.mask != r3.mask && r1.moved == TopSelection.elementCount(percent: 25, of: movable))

        #expect(throws: ModelError.self) { try ParameterSelection.select(.top, fraction: 0, unit: .tensor, layout: layout, fisher: fisher, seed: 0) }
        #expect(throws: ModelError.self) { try ParameterSelection.select(.top, fraction: 1.5, unit: .tensor, layout: layout, fisher: fisher, seed: 0) }
        #expect(throws: ModelError.self) { try ParameterSelection.select(.bottom, fraction: 0.5, unit: .tensor, layout: layout, fisher: nil, seed: 0) }
    }

    /// f(α, β) is the loss of a model whose parameters were set to θ₀ + αδ + βη on the host, and
    /// the parameters come back bit for bit after a grid.
    @Test func evaluatorMatchesAHostPerturbedModelAndRestoresExactly() throws {
        let model = try Self.model()
        let samples = try FisherEstimationTests.samples()
        let evaluator = try LandscapeEvaluator(model: model, samples: samples, batchSize: 3)
        let origin = try model.backend.download(model.parameters)
        let directions = LandscapeDirections.random(layout: model.layout, parameters: origin, seed: 2, normalization: .layer)
        let selection = try ParameterSelection.select(.top, fraction: 0.5, unit: .element, layout: model.layout,
                                                      fisher: Self.rankedFisher(model.layout), seed: 0)
        let delta = selection.masked(directions.delta), eta = selection.masked(directions.eta)
        try evaluator.setDirections(delta: delta, eta: eta)

        let reference = try Self.model()
        func referenceLoss(_ alpha: Float, _ beta: Float) throws -> Double {
            let perturbed = (0..<origin.count).map { origin[$0] + alpha * delta[$0] + beta * eta[$0] }
            try reference.backend.upload(perturbed, to: reference.parameters)
            var losses: [Double] = []
            for sample in samples where sample.predicted > 0 {
                let (batch, labels) = TokenBatch.padded([sample], padId: 0)
                losses.append(Double(try reference.maskedLM(batch, labels: labels, regularization: nil, reduction: .batchMean).loss))
            }
            return losses.reduce(0, +) / Double(losses.count)
        }
        #expect(evaluator.samples == samples.filter { $0.predicted > 0 }.count)
        for (alpha, beta) in [(0.0, 0.0), (0.5, -0.25), (-1.5, 1.0)] {
            let loss = try evaluator.loss(alpha: alpha, beta: beta)
            let expected = try referenceLoss(Float(alpha), Float(beta))
            #expect(abs(loss - expected) <= 1e-5 * abs(expected), "(\(alpha), \(beta)): \(loss) vs \(expected)")
        }
        // The perturbed set matters: moving half the parameters is not moving all of them.
        try evaluator.setDirections(delta: directions.delta, eta: directions.eta)
        #expect(try evaluator.loss(alpha: -1.5, beta: 1) != referenceLoss(-1.5, 1))

        let grid = try LandscapeGrid(count: 4, range: -1...1, oneDimensional: false)
        let points = try LandscapePoints(url: FisherEstimationTests.temporary("points"), resume: false)
        defer { try? FileManager.default.removeItem(at: points.url) }
        _ = try LossLandscape.run(evaluator: evaluator, directions: directions, selections: [selection], grid: grid, radius: 0.1,
                                  points: points, shouldStop: { false }, progress: { _, _ in })
        #expect(try model.backend.download(model.parameters) == origin)
    }

    @Test func openCLAndCPUGiveTheSameLandscape() throws {
        let samples = try FisherEstimationTests.samples()
        var losses: [[Double]] = []
        for backend in [CPUBackend(), try OpenCLBackend()] as [Backend] {
            let model = try Self.model(backend)
            let evaluator = try LandscapeEvaluator(model: model, samples: samples, batchSize: 4)
            let origin = try backend.download(model.parameters)
            let directions = LandscapeDirections.random(layout: model.layout, parameters: origin, seed: 3, normalization: .layer)
            try evaluator.setDirections(delta: directions.delta, eta: directions.eta)
            losses.append(try [(0.0, 0.0), (1.0, 0.5), (-0.75, -1.5)].map { try evaluator.loss(alpha: $0, beta: $1) })
        }
        for (cpu, opencl) in zip(losses[0], losses[1]) { #expect(abs(cpu - opencl) <= 1e-4 * abs(cpu), "\(cpu) vs \(opencl)") }
    }

    /// A run stopped part-way resumes from its points file to the uninterrupted result, computing
    /// only the missing points; outputs have a row per point and a plot per surface.
    @Test func anInterruptedRunResumesToTheSameSurfaces() throws {
        let model = try Self.model()
        let evaluator = try LandscapeEvaluator(model: model, samples: try FisherEstimationTests.samples(), batchSize: 4)
        let directions = LandscapeDirections.random(layout: model.layout, parameters: try model.backend.download(model.parameters),
                                                    seed: 5, normalization: .layer)
        let fisher = Self.rankedFisher(model.layout)
        let selections = [ParameterSelection.all(layout: model.layout),
                          try ParameterSelection.select(.bottom, fraction: 0.5, unit: .tensor, layout: model.layout, fisher: fisher, seed: 0)]
        let grid = try LandscapeGrid(count: 3, range: -1...1, oneDimensional: false)
        let total = 1 + 2 * (9 + 4)

        let fullURL = FisherEstimationTests.temporary("full"), partURL = FisherEstimationTests.temporary("part")
        defer { for url in [fullURL, partURL] { try? FileManager.default.removeItem(at: url) } }
        let full = try #require(try LossLandscape.run(
            evaluator: evaluator, directions: directions, selections: selections, grid: grid, radius: 0.2,
            points: try LandscapePoints(url: fullURL, resume: false), shouldStop: { false }, progress: { _, _ in }))

        var evaluated = 0
        let stopped = try LossLandscape.run(
            evaluator: evaluator, directions: directions, selections: selections, grid: grid, radius: 0.2,
            points: try LandscapePoints(url: partURL, resume: false), shouldStop: { evaluated >= 10 },
            progress: { _, _ in evaluated += 1 })
        #expect(stopped == nil && evaluated == 10)
        // A kill mid-write leaves a partial last line: it is dropped and recomputed.
        let handle = try FileHandle(forWritingTo: partURL)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"surface":"all","al"#.utf8))
        try handle.close()

        var resumedEvaluations = 0
        let resumed = try #require(try LossLandscape.run(
            evaluator: evaluator, directions: directions, selections: selections, grid: grid, radius: 0.2,
            points: try LandscapePoints(url: partURL, resume: true), shouldStop: { false },
            progress: { _, _ in resumedEvaluations += 1 }))
        #expect(resumedEvaluations == total - 10)
        for (a, b) in zip(full, resumed) {
            #expect(a.loss == b.loss && a.sharpness == b.sharpness && a.name == b.name)
        }
        #expect(full[0].sharpness.curvatureBeta != nil)

        let csv = LandscapeOutput.csv(full).split(separator: "\n")
        #expect(csv.count == 1 + 2 * 9 && csv[0] == "surface,alpha,beta,loss")
        let plots = LandscapeOutput.plots(full)
        #expect(plots.map(\.name) == ["landscape-all.svg", "landscape-bottom-50pct.svg"])
        #expect(plots[1].svg.contains("bottom 50% by Fisher (whole tensors)"))
        let settings = LandscapeSettings(model: "m", checkpointSHA256: "x", inputs: [], seed: 5, samples: 6, maxLength: 16,
                                         grid: grid, normalization: .layer, directions: nil, fisher: nil,
                                         selections: selections.map(\.name), radius: 0.2)
        let json = try JSONSerialization.jsonObject(with: LandscapeOutput.json(settings: settings, surfaces: full)) as! [String: Any]
        #expect((json["surfaces"] as! [[String: Any]]).count == 2)
    }

    @Test func oneDimensionalSlicesDrawOneChart() throws {
        let model = try Self.model()
        let evaluator = try LandscapeEvaluator(model: model, samples: try FisherEstimationTests.samples(), batchSize: 8)
        let directions = LandscapeDirections.random(layout: model.layout, parameters: try model.backend.download(model.parameters),
                                                    seed: 5, normalization: .layer)
        let selections = try [0.8, 0.2].map {
            try ParameterSelection.select(.random, fraction: $0, unit: .element, layout: model.layout, fisher: nil, seed: 1)
        }
        let url = FisherEstimationTests.temporary("slice")
        defer { try? FileManager.default.removeItem(at: url) }
        let surfaces = try #require(try LossLandscape.run(
            evaluator: evaluator, directions: directions, selections: selections,
            grid: try LandscapeGrid(count: 5, range: -1...1, oneDimensional: true), radius: 0.1,
            points: try LandscapePoints(url: url, resume: false), shouldStop: { false }, progress: { _, _ in }))
        #expect(surfaces.allSatisfy { $0.loss.count == 5 && $0.loss.allSatisfy { $0.count == 1 } && $0.sharpness.curvatureBeta == nil })
        // α = 0 is θ₀ for every surface.
        #expect(surfaces.allSatisfy { $0.loss[2][0] == $0.sharpness.centre })
        let plots = LandscapeOutput.plots(surfaces)
        #expect(plots.count == 1 && plots[0].name == "landscape-1d.svg" && plots[0].svg.contains("random-80pct-element"))
    }
}

/// Filter normalisation per output unit for GPT-2, whose `Conv1D` weights are stored [in, out].
@Suite struct ConvFilterNormalisationTests {
    @Test func conv1DOutputUnitsAreColumns() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../GuidedModelTests/Fixtures/tiny-gpt2").standardizedFileURL
        let (model, _) = try ModelLoader.load(folder, role: .pretraining, backend: CPUBackend())
        let architecture = model.architecture
        let weights = try model.backend.download(model.parameters)
        let filter = LandscapeDirections.random(layout: model.layout, parameters: weights, seed: 5, normalization: .filter,
                                                inputMajor: { architecture.isInputMajor($0) })
        func norm(_ values: [Float]) -> Double { values.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }
        let cAttn = try #require(model.layout["h.0.attn.c_attn.weight"]), wte = try #require(model.layout["wte.weight"])
        #expect(architecture.isInputMajor(cAttn) && !architecture.isInputMajor(wte))
        #expect(!architecture.isInputMajor(try #require(model.layout["h.0.ln_1.weight"])))
        let (inputs, outputs) = (cAttn.shape[0], cAttn.shape[1])
        for column in [0, 17, outputs - 1] {
            let indices = (0..<inputs).map { cAttn.offset + $0 * outputs + column }
            let w = norm(indices.map { weights[$0] }), d = norm(indices.map { filter.delta[$0] })
            #expect(abs(d - w) <= 1e-4 * w, "column \(column): |δ| \(d) vs |w| \(w)")
        }
        // wte keeps rows (token vectors).
        let row = (0..<wte.shape[1]).map { wte.offset + 3 * wte.shape[1] + $0 }
        #expect(abs(norm(row.map { filter.eta[$0] }) - norm(row.map { weights[$0] })) <= 1e-4 * norm(row.map { weights[$0] }))
    }
}
