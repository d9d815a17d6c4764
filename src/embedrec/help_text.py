"""The choices `--help` lists (splits, protocols, synthetic presets, engines) as plain text, so
that help imports no torch, numba or pandas. The split and protocol texts live here and their
modules use them; the lists a registry computes are copies that tests/test_startup.py checks
against the registries (a new engine fails it until added). The model kinds are not copied
here: `embedrec.models.declared` reads them from the kinds' own files.
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
ENGINE_NAMES = ("auto", "fused", "torch", "own")
