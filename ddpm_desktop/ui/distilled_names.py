"""The distilled sampler's name and tooltip, shared by the session and the sampler panel
(a widget may not import the session modules: tests/test_layering.py), and `lane_name`: what a
caption calls a sampler run (the reverse view's lanes, the live view)."""

from ddpm_desktop.core.run import DISTILLED  # noqa: F401 - re-exported

DISTILLED_NAME = "Distilled student (1-4 steps)"
DISTILLED_TIP = ("A student distilled from the bundled model (docs/DISTILLATION.md): 1-4 network "
                 "calls, DDIM steps of a network that predicts x̂_0 = α x_t − σ v directly, with "
                 "guidance w baked in (the guidance control does not apply). A run with it takes "
                 "at most 4 steps in every lane, so a compare lane runs at equal NFE.")


def lane_name(sampler: str, steps: int) -> str:
    """A run's sampler as a caption says it: "distilled student, 2 steps" for the student (its
    step count is what it was distilled for), the sampler's display name otherwise."""
    if sampler == DISTILLED:
        return f"distilled student, {int(steps)} step{'' if int(steps) == 1 else 's'}"
    from ddpm_desktop.ui.state import SAMPLER_NAMES

    return SAMPLER_NAMES.get(sampler, sampler)
