"""The distilled sampler's name and tooltip, shared by the session and the sampler panel
(a widget may not import the session modules: tests/test_layering.py)."""

DISTILLED = "distilled"
DISTILLED_NAME = "Distilled student (1-4 steps)"
DISTILLED_TIP = ("A student distilled from the bundled model (docs/DISTILLATION.md): 1-4 network "
                 "calls, DDIM steps of a network that predicts x̂_0 = α x_t − σ v directly, with "
                 "guidance w baked in (the guidance control does not apply). A run with it takes "
                 "at most 4 steps in every lane, so a compare lane runs at equal NFE.")
