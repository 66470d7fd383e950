/// What a regulariser does at one site: Bernoulli dropout with probability `p`, or multiplicative
/// Gaussian noise `ε ~ N(1, std²)`.
public enum Noise: Sendable, Equatable, Hashable {
    case bernoulli(Float)
    case gaussian(std: Float)

    /// False when the noise is the identity (p = 0 or std = 0), so callers can skip it.
    public var isActive: Bool {
        switch self {
        case .bernoulli(let p): return p > 0
        case .gaussian(let std): return std > 0
        }
    }
}

extension Backend {
    /// `y = noise(x)` drawn from `key`. The backward is the same call on the gradient.
    public func apply(_ noise: Noise, _ x: Tensor, into y: Tensor, key: RandomKey) throws {
        switch noise {
        case .bernoulli(let p): try dropout(x, into: y, probability: p, key: key)
        case .gaussian(let std): try gaussianNoise(x, into: y, std: std, key: key)
        }
    }
}
