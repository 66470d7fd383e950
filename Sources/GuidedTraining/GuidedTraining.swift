// GuidedTraining: GLUE tasks (readers, restart splits, data paucity), metrics as the `glue` metric
// of `evaluate`, and the fine-tuning loop.
