// Kernels of Kernels/cl/elementwise.cl.
extension OpenCLBackend {
    public func fill(_ tensor: Tensor, with value: Float) throws {
        try launch("fill", global: [tensor.count], [.tensor(tensor), .int(tensor.count), .float(value)])
    }

    public func copy(_ src: Tensor, to dst: Tensor) throws {
        precondition(dst.count >= src.count, "copy: destination \(dst.count) < source \(src.count)")
        try launch("copy_elements", global: [src.count], [.tensor(src), .tensor(dst), .int(src.count)])
    }

    public func scale(_ x: Tensor, by alpha: Float) throws {
        try launch("scale", global: [x.count], [.tensor(x), .int(x.count), .float(alpha)])
    }

    public func axpy(_ alpha: Float, _ x: Tensor, _ y: Tensor) throws {
        precondition(x.count == y.count, "axpy: \(x.count) vs \(y.count)")
        try launch("axpy", global: [x.count], [.float(alpha), .tensor(x), .tensor(y), .int(x.count)])
    }

    public func add(_ a: Tensor, _ b: Tensor, into out: Tensor) throws {
        precondition(a.count == b.count && a.count == out.count, "add: \(a.count), \(b.count), \(out.count)")
        try launch("add", global: [a.count], [.tensor(a), .tensor(b), .tensor(out), .int(a.count)])
    }

    public func permute0213(_ x: Tensor, into y: Tensor, _ d0: Int, _ d1: Int, _ d2: Int, _ d3: Int) throws {
        precondition(x.count == d0 * d1 * d2 * d3 && y.count == x.count, "permute0213: shape mismatch")
        try launch("permute0213", global: [x.count],
                   [.tensor(x), .tensor(y), .int(d0), .int(d1), .int(d2), .int(d3)])
    }

    public func packedRowsToHeads(_ x: Tensor, into y: Tensor, samples: SampleRows, tokens: Int, heads: Int,
                                  headDim: Int) throws {
        precondition(x.count == samples.total * heads * headDim && y.count == samples.count * heads * tokens * headDim
                     && samples.longest <= tokens, "packedRowsToHeads: shape mismatch")
        try launch("packed_rows_to_heads", global: [y.count],
                   [.tensor(x), .tensor(y), .tensor(startsTensor(samples)), .int(samples.count), .int(tokens),
                    .int(heads), .int(headDim)])
    }

    public func headsToPackedRows(_ x: Tensor, into y: Tensor, samples: SampleRows, tokens: Int, heads: Int,
                                  headDim: Int) throws {
        precondition(y.count == samples.total * heads * headDim && x.count == samples.count * heads * tokens * headDim
                     && samples.longest <= tokens, "headsToPackedRows: shape mismatch")
        try launch("heads_to_packed_rows", global: [y.count],
                   [.tensor(x), .tensor(y), .tensor(startsTensor(samples)), .int(samples.count), .int(samples.total),
                    .int(tokens), .int(heads), .int(headDim)])
    }

    public func addBias(_ y: Tensor, _ bias: Tensor, rows: Int, columns: Int) throws {
        precondition(y.count == rows * columns && bias.count == columns, "addBias: shape mismatch")
        try launch("add_bias", global: [y.count], [.tensor(y), .tensor(bias), .int(rows), .int(columns)])
    }

    public func biasBackward(_ dy: Tensor, dBias: Tensor, rows: Int, columns: Int) throws {
        precondition(dy.count == rows * columns && dBias.count == columns, "biasBackward: shape mismatch")
        try launch("bias_backward", global: [columns], [.tensor(dy), .tensor(dBias), .int(rows), .int(columns)])
    }

    public func tanhForward(_ x: Tensor, into y: Tensor) throws {
        precondition(x.count == y.count, "tanh: \(x.count) vs \(y.count)")
        try launch("tanh_forward", global: [x.count], [.tensor(x), .tensor(y), .int(x.count)])
    }

    public func tanhBackward(_ y: Tensor, _ dy: Tensor, into dx: Tensor) throws {
        precondition(y.count == dy.count && y.count == dx.count, "tanhBackward: shape mismatch")
        try launch("tanh_backward", global: [y.count], [.tensor(y), .tensor(dy), .tensor(dx), .int(y.count)])
    }

    public func geluForward(_ x: Tensor, into y: Tensor, form: GeluForm) throws {
        precondition(x.count == y.count, "gelu: \(x.count) vs \(y.count)")
        try launch("gelu_forward", global: [x.count], [.tensor(x), .tensor(y), .int(x.count), .int(form.kernelCode)])
    }

    /// The kernel computes gelu′ from x alone: on a device this elementwise pass is bound by memory,
    /// and reading `y` as well would cost more than the erf it saves.
    public func geluBackward(_ x: Tensor, output y: Tensor, _ dy: Tensor, into dx: Tensor, form: GeluForm) throws {
        precondition(x.count == dy.count && x.count == dx.count && y.count == x.count, "geluBackward: shape mismatch")
        try launch("gelu_backward", global: [x.count],
                   [.tensor(x), .tensor(dy), .tensor(dx), .int(x.count), .int(form.kernelCode)])
    }
}

extension GeluForm {
    /// `GELU_ERF` / `GELU_TANH` in elementwise.cl.
    var kernelCode: Int { self == .erf ? 0 : 1 }
}
