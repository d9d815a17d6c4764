"""The choices `--help` lists (splits, protocols, synthetic presets, model kinds, engines) as
plain text, so that help imports no torch, numba or pandas. The split and protocol texts live
here and their modules use them; the lists a registry computes are copies that
tests/test_startup.py checks against the registries (a new kind or engine fails it until added).
"""

SPLIT_HELP = (
    "use random:PCT[:SEED], kfold:K:FOLD[:SEED], temporal:N, temporal:FRAC, "
    "or u1..u5/ua/ub for MovieLens 100k"
)
PROTOCOL_HELP = (
    "ml100k-u1, ml100k-5fold, ml100k-random20, ml100k-sparse, leave-last-out, random:PCT[:SEED], "
    "kfold:K[:SEED], temporal:N or temporal:FRAC"
)
# embedrec.SYNTHETIC_PRESETS' names
SYNTHETIC_PRESET_NAMES = ("ml-100k", "ml-1m", "ml-10m", "ml-20m", "ml-25m", "sparse")
# embedrec.engine_names()
ENGINE_NAMES = ("auto", "fused", "torch", "gibbs", "als", "direct", "members")
# embedrec.models_help()
MODELS_HELP = (
    "average: weighted average of --members (default: three bmf chains), --weights; "
    "bias: the bias baseline: mean + damped user and item offsets, closed form; "
    "dot: dot product of user and item factors (the chapter's first model); "
    "dot-bias: dot product plus user and item biases (the chapter's recipe); "
    "bmf: Bayesian MF by Gibbs sampling, the default (--epochs = sweeps) (--option shrink=None); "
    "bpr: BPR ranking model (Rendle et al. 2009): pairwise loss, sampled negatives; ranks "
    "(--option min_rating=None); "
    "ease: EASE item-item ranking model (Steck 2019), closed form; ranks, predicts no ratings "
    "(--option l2=500.0, min_rating=None, weighting=binary, max_gb=4.0); "
    "ials: implicit ALS ranking model (Rendle et al. 2021), conjugate gradient; any size "
    "(--option reg=0.01, alpha0=1.0, alpha=0.0, nu=1.0, cg_steps=3, init_std=0.1, "
    "min_rating=None, weighting=binary); "
    "nn: embeddings through Linear-ReLU-BatchNorm layers (--layers, --dropout); "
    "popular: most chosen items first, the same list for everyone; ranks, predicts no ratings"
)
