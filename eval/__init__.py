"""`make eval`: call-graph tasks on real open-source projects, through the whole pipeline, scored against
call paths written by hand (eval/cases.toml); figures in docs/eval.md."""
