import GuidedCompute

/// One named parameter tensor: a slice of the model's single parameter buffer.
public struct ParameterSlot: Sendable, Hashable {
    /// The `transformers` name without any `bert.` prefix, e.g. `encoder.layer.3.attention.self.query.weight`.
    public let name: String
    public let shape: [Int]
    public let offset: Int
    public var count: Int { shape.reduce(1, *) }
}

/// Every parameter of a model, in `transformers`' `state_dict` order, laid out back to back.
///
/// As in llm.c, parameters, gradients, optimizer moments and Fisher sums are each one allocation with
/// this same layout, so "all parameters" is one tensor for the optimizer and checkpoints alike.
public struct ParameterLayout: Sendable {
    public private(set) var slots: [ParameterSlot] = []
    private var index: [String: Int] = [:]
    public private(set) var totalCount = 0

    init() {}

    mutating func add(_ name: String, _ shape: [Int]) {
        precondition(index[name] == nil, "parameter \(name) declared twice")
        index[name] = slots.count
        slots.append(ParameterSlot(name: name, shape: shape, offset: totalCount))
        totalCount += shape.reduce(1, *)
    }

    public subscript(_ name: String) -> ParameterSlot? {
        index[name].map { slots[$0] }
    }

    /// The slot named `name`; the model declares every name it asks for, so a miss is a bug.
    func slot(_ name: String) -> ParameterSlot {
        guard let slot = self[name] else { preconditionFailure("no parameter named \(name)") }
        return slot
    }
}

extension Tensor {
    /// The window of a parameter-layout buffer (parameters, gradients, Fisher) that holds `slot`.
    public func slice(_ slot: ParameterSlot) -> Tensor {
        slice(slot.offset, slot.count)
    }
}
