// Twin of Kernels/cl/embedding.cl.
extension CPUBackend {
    public func embeddingGather(_ table: Tensor, ids: Tensor, into out: Tensor, tokens: Int, width: Int) throws {
        precondition(ids.count == tokens && out.count == tokens * width && table.count % width == 0,
                     "embeddingGather: shape mismatch")
        let rows = table.count / width
        let pt = floats(table), po = floats(out)
        for (t, id) in ints(ids).enumerated() {
            precondition(id >= 0 && Int(id) < rows, "embeddingGather: id \(id) outside table of \(rows) rows")
            (po + t * width).update(from: pt + Int(id) * width, count: width)
        }
    }

    public func scatterAddRows(_ src: Tensor, index: Tensor, into dst: Tensor,
                               rows: Int, width: Int, skip: Int32) throws {
        precondition(src.count == rows * width && index.count == rows && dst.count % width == 0,
                     "scatterAddRows: shape mismatch")
        let ps = floats(src), pd = floats(dst)
        for (r, target) in ints(index).enumerated() where target >= 0 && target != skip {
            precondition(Int(target) < dst.count / width, "scatterAddRows: row \(target) outside destination")
            let d = pd + Int(target) * width, s = ps + r * width
            for j in 0..<width { d[j] += s[j] }
        }
    }

    public func accumulateSquaredRows(_ src: Tensor, index: Tensor, into fisher: Tensor,
                                      rows: Int, width: Int) throws {
        precondition(src.count == rows * width && index.count == rows && fisher.count % width == 0,
                     "accumulateSquaredRows: shape mismatch")
        let ps = floats(src), pf = floats(fisher)
        for (u, target) in ints(index).enumerated() where target >= 0 {
            precondition(Int(target) < fisher.count / width, "accumulateSquaredRows: row \(target) outside Fisher")
            let f = pf + Int(target) * width, s = ps + u * width
            for j in 0..<width { f[j] += s[j] * s[j] }
        }
    }
}
