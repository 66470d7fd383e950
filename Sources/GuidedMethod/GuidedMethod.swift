// GuidedMethod: the paper's method on top of the model layer — empirical Fisher estimation
// (corpus, MLM masking or causal labels, per-sample squaring, files), its analyses (report, consistency), and the
// dropout schedule derived from it.
