/// Longest-first truncation as the Rust tokenizer does it (`TruncationStrategy::LongestFirst`).
enum Truncation {
    /// How many tokens of each text to keep so that together they fit `budget` (the maximum length
    /// less the special tokens). With a pair, the shorter text is kept whole when the longer one can
    /// absorb the cut; otherwise each gets half the budget and, when the budget is odd, the longer text
    /// gets the extra token (the second one when both are equally long). The legacy Python tokenizer
    /// removes one token at a time from the longer text instead, which can split differently.
    static func longestFirst(first: Int, second: Int?, budget: Int) -> (first: Int, second: Int?) {
        let budget = max(budget, 0)
        guard let second else { return (min(first, budget), nil) }
        guard first + second > budget else { return (first, second) }
        let swapped = first > second
        var shorter = swapped ? second : first
        var longer: Int
        if shorter > budget {
            longer = shorter
        } else {
            longer = max(shorter, budget - shorter)
        }
        if shorter + longer > budget {
            shorter = budget / 2
            longer = shorter + budget % 2
        }
        let keepFirst = swapped ? longer : shorter
        let keepSecond = swapped ? shorter : longer
        return (min(first, keepFirst), min(second, keepSecond))
    }
}
