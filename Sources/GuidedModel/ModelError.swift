/// Errors reading or writing models, checkpoints and tokenizer files. Each names the file and,
/// where there is one, the tensor or line, and says what was expected.
public struct ModelError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
