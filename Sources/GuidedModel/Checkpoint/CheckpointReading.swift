import GuidedCompute

extension LanguageModel {
    /// Fills every parameter from `checkpoint`: under its head name, its base name with or without
    /// the base prefix, or one of `aliases[name]` (older spellings); a parameter found nowhere gets
    /// `initial(slot)`, as `transformers` initialises a missing tensor. Tensors named in `tied`
    /// (a stored copy of a tied weight) count as used. The report lists what was found, initialised
    /// and left unused.
    func read(_ checkpoint: CheckpointFolder, aliases: [String: [String]] = [:], tied: [String] = [],
              initial: (ParameterSlot) -> [Float]) throws -> LoadReport {
        let a = architecture
        var report = LoadReport()
        var used = Set(tied.filter { checkpoint.entry($0) != nil })
        for slot in a.layout.slots {
            let candidates = (a.isHeadParameter(slot.name) ? [slot.name] : [a.basePrefix + slot.name, slot.name])
                + (aliases[slot.name] ?? [])
            guard let stored = candidates.first(where: { checkpoint.entry($0) != nil }),
                  let (entry, file) = checkpoint.entry(stored) else {
                try setParameter(slot.name, initial(slot))
                report.initialized.append(slot.name)
                continue
            }
            guard entry.shape == slot.shape else {
                throw ModelError("\(file): tensor \(stored) has shape \(entry.shape), expected \(slot.shape) for this config")
            }
            try setParameter(slot.name, try checkpoint.floats(stored))
            used.insert(stored)
            if stored.hasPrefix(a.basePrefix) && !a.isHeadParameter(slot.name) { report.prefixed = true }
            report.found.append(slot.name)
        }
        report.unused = checkpoint.tensorNames.filter { !used.contains($0) }.sorted()
        return report
    }
}
