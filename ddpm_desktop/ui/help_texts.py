"""What every control and readout means, in one place: a tooltip (short, with the formula) and a
"What's this?" text (Shift+F1, longer) per widget, keyed by the view's class and attribute.

`apply_help(root)` walks the widgets under `root` and sets the texts; a widget that already has
a tooltip of its own (one that changes with the data, e.g. a sampler's) keeps it, and gets the
longer text as What's-this. Every widget with a tooltip and no What's-this text gets its
tooltip as What's-this, so Shift+F1 explains everything that is explained at all.
tests/ui/test_help.py checks that every interactive widget and readout of the window has one.
"""
from __future__ import annotations

from PySide6.QtWidgets import QWidget

# {view class name: {attribute: (tooltip, what's this or "")}}
HELP: dict[str, dict[str, tuple[str, str]]] = {
    "InputPanel": {
        "preview": ("x₀, the digit the forward chain starts from (28×28, values in [-1, 1])", ""),
        "source_label": ("Where x₀ came from", ""),
        "start_combo": ("The distribution x_T is drawn from when the reverse chain starts from "
                        "noise (and, with 'the noise above', where the forward chain starts)",
                        "DDPM assumes x_T ~ N(0, 1). The other starts show what happens when it "
                        "is not: the poster's exponential −log(U)/0.5 has KL 3.226 to N(0, 1)."),
        "seed_spin": ("Seed of the forward chain's noise z_1..z_T and of the x_T draw", ""),
        "seed_button": ("A new random seed", ""),
        "kl_label": ("Exact KL(p ‖ N(0, 1)) per pixel of the chosen start distribution: "
                     "−H(p) + ½ ln 2π + ½ E[x²]", ""),
        "from_digit": ("The forward chain noises the digit x₀", ""),
        "from_noise": ("The forward chain starts from a draw of the start distribution, to "
                       "watch it become N(0, 1)", ""),
        "open_button": ("Load a digit from an image file (or drop one on the window)", ""),
    },
    "DatasetBrowser": {
        "source_combo": ("The data set to browse: bundled MNIST, Fashion-MNIST, or a folder", ""),
        "label_combo": ("Show only digits of this label", ""),
        "random_button": ("Pick a random digit as x₀", ""),
        "page_spin": ("Page of the grid (digits shown in a fixed shuffle, not file order)", ""),
        "page_label": ("Pages in all", ""),
        "info_label": ("The data set and how many digits it holds", ""),
    },
    "CanvasPanel": {
        "pen_button": ("Draw white ink (left button)", ""),
        "eraser_button": ("Erase (or use the right button)", ""),
        "undo_button": ("Undo the last stroke (Ctrl+Z)", ""),
        "clear_button": ("Clear the canvas", ""),
        "open_button": ("Load a picture onto the canvas", ""),
        "size_slider": ("Brush radius", ""),
    },
    # -- the guidance trade-off (widgets/guidance_plot.py) --
    "GuidancePlot": {
        "caption": ("The bundled model's measured legibility and Fréchet distance at the "
                    "guidance w set above (or the nearest measured w)", ""),
        "plot": ("Measured for the bundled model (resources/guidance_sweep.json): top, the share "
                 "of class-conditional samples the bundled classifier reads as their label; "
                 "bottom, the Fréchet distance of 500 samples' classifier features to the "
                 "training digits, ÷ the data floor (500 held-out digits' FD). Dashed: the "
                 "targets, 97% and 1.5×; the vertical line is the current w.",
                 "Guidance ε̃ = ε_u + w (ε_c − ε_u) trades variety for legibility: w = 0 is the "
                 "unconditional model, w = 1 the plain conditional one, w > 1 pushes samples "
                 "towards what the class looks like on average, so they get easier to read and "
                 "less varied (the FD grows). ddpm-desktop evaluate --guidance-sweep remeasures "
                 "it; docs/GUIDANCE.md has the table."),
    },
    # -- reconstruct as you draw (widgets/live_view.py) --
    "LiveView": {
        "enable_box": ("Every edit of the drawing is noised to t and reconstructed at once by a "
                       "few-step sampler",
                       "SDEdit as you draw: x_t = √ᾱ_t x₀ + √(1 − ᾱ_t) ε with one fixed ε (so the "
                       "picture changes only because the drawing did), then back to t = 0 in one "
                       "network call of the bundled distilled student, x̂₀ = (x_t − √(1 − ᾱ_t) ε̂) "
                       "/ √ᾱ_t (with another model: DPM-Solver++(2M) in 2 calls). Small t keeps "
                       "your strokes; large t lets the model redraw the digit its own way. While "
                       "it is on, the forward chain follows the drawing once the pen rests."),
        "t_spin": ("The step t the drawing is noised to before it is reconstructed", ""),
        "noised": ("x_t = √ᾱ_t x₀ + √(1 − ᾱ_t) ε: the drawing noised to t (fixed ε)", ""),
        "result": ("x̂₀: the reconstruction from x_t by the few-step sampler (the distilled "
                   "student: x̂₀ = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t, one network call)", ""),
        "noised_label": ("The step t of the noised drawing", ""),
        "result_label": ("The reconstruction x̂₀", ""),
        "info_label": ("The classifier's reading of x̂₀ with its softmax probability p(k | x̂₀), "
                       "the sampler and its network calls (NFE), the compute time of one update "
                       "(noise, sampler, classifier) and the reconstructions that arrived in the "
                       "last second of drawing", ""),
    },
    "ForwardChainView": {
        "t_label": ("The step t shown and ᾱ_t = Π_{s≤t} (1 − β_s): x_t = √ᾱ_t x₀ + "
                    "√(1 − ᾱ_t) ε", ""),
        "pane": ("x_t of the forward chain q(x_t | x_{t−1}) = N(√(1 − β_t) x_{t−1}, β_t I)",
                 "Each step keeps √(1 − β_t) of the previous frame and adds noise of variance "
                 "β_t (Ho et al. 2020, eq. 2); after T steps x_T is close to N(0, 1) when ᾱ_T "
                 "≈ 0."),
        "filmstrip": ("Key frames t = 0, T/10, …, T: click one to jump there", ""),
        "home_button": ("Go to t = 0 (Home)", ""),
        "back_button": ("One step back (←)", ""),
        "play_button": ("Play or pause the forward chain (Space)", ""),
        "step_button": ("One step forward (→)", ""),
        "end_button": ("Go to t = T (End)", ""),
    },
    "ReverseChainView": {
        "nfe_label": ("NFE: network evaluations so far / the run's total (one per reverse step; "
                      "two per step with classifier-free guidance in one batch)", ""),
        "sample_button": ("Run the reverse chain (Ctrl+R)", ""),
        "load_button": ("Load a model checkpoint (.safetensors)", ""),
        "train_button": ("Open the Training dock", ""),
        "slider": ("Scrub through the reverse chain, x_T → x₀", ""),
        "ready_label": ("The model is ready: press Sample", ""),
        "no_model_label": ("The reverse chain needs a trained network ε_θ", ""),
    },
    "_LanePanel": {
        "caption": ("The sampler, the step t of the frame shown and the step count", ""),
        "x_t_pane": ("x_t: the reverse chain's current sample", ""),
        "x0_pane": ("x̂₀ = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t: the network's guess of the final "
                    "digit at this step (clipped to [−1, 1])", ""),
    },
    "SamplerPanel": {
        "steps_spin": ("Reverse steps = network evaluations (NFE) per chain; capped at the "
                       "start step", ""),
        "seed_spin": ("Seed of the sampler's noise (DDPM's z at every step, DDIM with η > 0)",
                      ""),
        "seed_button": ("A new random sampler seed", ""),
        "label_combo": ("The class to generate (classifier-free guidance), or none", ""),
        "guidance_spin": ("Guidance w: ε̂ = ε_u + w (ε_c − ε_u); 0 unconditional, 1 "
                          "conditional, > 1 a stronger class at the cost of variety", ""),
        "eta_spin": ("DDIM η: σ_t = η √((1−ᾱ_s)/(1−ᾱ_t)) √(1 − ᾱ_t/ᾱ_s); 0 deterministic "
                     "(the probability-flow ODE), 1 DDPM's variance", ""),
        "t_start_spin": ("Reconstruct: start from the forward chain's frame at this t (SDEdit)",
                         ""),
        "source_combo": ("Start from noise x_T, or from the digit noised to t", ""),
        "compare_check": ("Run a second sampler from the same x_T with the same NFE", ""),
        "sample_button": ("Run the reverse chain (Ctrl+R)", ""),
        "stop_button": ("Stop the run (Esc)", ""),
        "model_label": ("The network the reverse chain uses", ""),
        "sampler_combo": ("The reverse-step rule (hover a choice for its equation)", ""),
        "sampler_b_combo": ("The second sampler of compare mode", ""),
    },
    "SchedulePanel": {
        "kind_combo": ("Shape of β_t. Cosine (Nichol & Dhariwal) ignores β₁ and β_T.", ""),
        "T_spin": ("Number of diffusion steps T", ""),
        "T_slider": ("Number of diffusion steps T (stops where the schedule stops being valid)",
                     ""),
        "beta_start_slider": ("β₁, the first step's noise variance (log scale)", ""),
        "beta_end_slider": ("β_T, the last step's noise variance (log scale; stops at the "
                            "largest valid value)", ""),
        "alpha_bar_label": ("ᾱ_T = Π (1 − β_t): how much of x₀ is left in x_T (√ᾱ_T of its "
                            "amplitude); prior KL = L_T = KL(q(x_T|x₀) ‖ N(0, I)) per pixel "
                            "= ½(ᾱ_T E[x₀²] + (1 − ᾱ_T) − 1 − ln(1 − ᾱ_T))", ""),
        "warning_label": ("Whether x_T is close to N(0, 1) under this schedule", ""),
        "inline_error": ("Why the last value was not applied", ""),
    },
    "TrainingPanel": {
        "dataset_combo": ("What to train on", ""),
        "batch_spin": ("Images per optimizer step", ""),
        "steps_spin": ("Optimizer steps of the run", ""),
        "lr_spin": ("Peak learning rate (AdamW; warm-up, then cosine decay to 10%)", ""),
        "start_button": ("Start training, or continue the run", ""),
        "pause_button": ("Pause between two steps / resume", ""),
        "stop_button": ("Stop after the current step (the run can be continued)", ""),
        "progress_bar": ("Steps done of the run", ""),
        "status_label": ("What the run is doing", ""),
        "samples_label": ("Ten samples from the EMA network, one per class, DPM-Solver++ 15 "
                          "steps from a fixed noise: the same digits get sharper as it learns", ""),
        # the folding settings and the plot tabs
        "settings_button": ("Show or hide the run's settings (data set, batch, steps, learning "
                            "rate)", ""),
        "settings_summary": ("The settings the next Start uses", ""),
        "plot_tabs": ("The loss ‖ε − ε_θ‖² against the step, or averaged per log-SNR band "
                      "λ = log(ᾱ_t/(1−ᾱ_t))", ""),
    },
    "InpaintPanel": {
        "run_button": ("Fill the hidden pixels: the reverse chain with the known pixels kept "
                       "(the method chosen above)", ""),
        "cancel_button": ("Stop the inpainting run", ""),
    },
    # when the digit is decided; completions of x_t
    "DecisionView": {
        "title": ("Which quantity the plot shows: the bundled classifier's softmax p(k | x̂₀) "
                  "for each class k, on the x̂₀ of every network call of the reverse chain "
                  "(lane 1)", ""),
        "plot": ("p(k | x̂₀) = softmax(classifier(x̂₀))_k, one line per class, against the t of "
                 "the x_t each x̂₀ = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t was predicted from; the dashed "
                 "line: where the reading settles; the solid one: the frame shown",
                 "Early in the chain (t near T) x̂₀ is a blur and the classifier's reading "
                 "jumps between classes; the dashed marker is the first network call from "
                 "which argmax_k p(k | x̂₀) never changes again."),
        "key_label": ("The colour of each class k's line p(k | x̂₀)", ""),
        "readout": ("Where the reading argmax_k p(k | x̂₀) settles: the t of the first network "
                    "call from which it never changes again (\"so far\" while the chain runs)",
                    ""),
    },
    "CompletionsPanel": {
        "source_label": ("Where the completions start: x_t, the Input digit noised to the "
                         "Sampler dock's t, x_t = √ᾱ_t x₀ + √(1 − ᾱ_t) ε", ""),
        "n_spin": ("N, the number of completions: samples of x₀ ~ p_θ(x₀ | x_t), one batch", ""),
        "run_button": ("Draw N completions of x_t with the Sampler dock's sampler; completion k "
                       "uses seed + k", ""),
        "cancel_button": ("Stop drawing completions", ""),
        "problem_label": ("Why no completions can be drawn with these settings", ""),
        "result_label": ("How many completions the classifier reads as each class "
                         "(its argmax_k p(k | completion))", ""),
    },
    "HistogramView": {
        "hist_plot": ("Histogram of the frame's 784 pixel values (the KL estimator's own bins) "
                      "against the N(0, 1) density φ(x) = e^{−x²/2}/√(2π)", ""),
    },
    # the maths panel: rows set their own formula tooltips
    "MathsPanel": {
        "header_reverse": ("The reverse frame on screen and the sampler step that produced it: "
                           "t = ts[i] → s = ts[i+1]", ""),
    },
    "TermRow": {
        "value_label": ("The equation above with today's numbers substituted",
                        "Hover a term to frame the view it drives."),
    },
    # ---
    "ExportDialog": {
        "what_combo": ("Which chain(s) to export", ""),
        "both_combo": ("'Both': one digit (the reverse chain reconstructs the forward chain's "
                       "x_t, so both halves show the same digit) or the two chains on screen",
                       "With 'one digit' the export runs the sampler panel's sampler from the "
                       "forward frame x_t = √ᾱ_t x₀ + √(1−ᾱ_t) ε back to x₀ and shows it beside "
                       "x₀ → x_t, as `ddpm-desktop export --chain both` does."),
        "both_t_spin": ("The forward step t the reverse chain reconstructs from "
                        "(auto: t = 3T/10, where the digit still comes back as itself)", ""),
        "format_combo": ("A looping GIF, or a PNG strip of key frames", ""),
        "fps_spin": ("Frames per second of the GIF", ""),
        "scale_spin": ("Pixels per model pixel", ""),
        "key_frames_spin": ("Key frames per chain in the PNG strip", ""),
        "hist_check": ("Draw each frame's pixel histogram against N(0, 1)", ""),
        "kl_check": ("Draw the estimated KL-to-N(0, 1) curve with the frame marked", ""),
        "path_edit": ("The file to write", ""),
        "browse_button": ("Choose the file", ""),
        "info_label": ("Frames, size and memory of this export", ""),
        "export_button": ("Write the file", ""),
        "cancel_button": ("Stop the export; nothing is written", ""),
        "close_button": ("Close the dialog (an export keeps running)", ""),
    },
    # the Lessons dock
    "LessonPanel": {
        "lesson_combo": ("The guided lesson to follow: each step sets the app up and asks a "
                         "question", "Five lessons: the forward process; why ᾱ_T must be ≈ 0; "
                         "the reverse process and x̂₀; samplers and NFE; guidance. Predict the "
                         "answer first, then press Reveal."),
        "summary_label": ("What the lesson is about", ""),
        "step_label": ("Which step of the lesson this is", ""),
        "question_label": ("The question about what the app shows now: predict before you "
                           "reveal", ""),
        "reveal_button": ("Show the answer (its numbers are computed from the step's "
                          "schedule and sampler, e.g. ᾱ_t = Π_{s≤t} (1 − β_s))", ""),
        "answer_label": ("The answer, with the numbers computed for this step's setup", ""),
        "back_button": ("The previous step (sets the app up for it)", ""),
        "next_button": ("The next step (sets the app up for it)", ""),
        "reapply_button": ("Set the app up for this step again after changing things", ""),
    },

    # the 2-D window's latent map and export
    "Toy2DWindow": {
        "export_button": ("Write the chain shown with the heat map and arrows as drawn (GIF, WebP, "
                          "APNG; PNG: the last frame)",
                          "The frames are picked along the chain as in the main export (at least "
                          "30, the last held 1 s) and the file is written once, at the end, so a "
                          "failed export leaves an existing file as it was."),
        "mouse_combo": ("What a click (or a drag, when painting) on the particle plot does; "
                        "shift-click adds to the picked particles",
                        "Decode a point (the digits' latent map): the decoder D(z) draws the "
                        "digit of the clicked code z beside it."),
    },
    "LatentPanel": {
        "class_combo": ("The class y the latent model samples, with classifier-free guidance "
                        "ε̂ = ε̂_∅ + w (ε̂_y − ε̂_∅), w = 2; all: particle i gets class i mod 10",
                        "The latent diffusion model is a small MLP conditioned on the class, with a "
                        "null class for the unconditional model (its arrows when 'All' is chosen)."),
        "grid_label": ("The first 10 particles z_t decoded, D(z_t), at the step shown", ""),
        "grid_info": ("Which particles are decoded and at which step t", ""),
        "point_label": ("D(z): the digit the decoder makes of the clicked map point z", ""),
        "point_info": ("The clicked point z = (z₁, z₂) of the latent map", ""),
    },
}


def apply_help(root: QWidget) -> int:
    """Set the texts on every known view under `root` (and `root`); returns how many widgets
    got a text."""
    count = 0
    views = [root] + root.findChildren(QWidget)
    for view in views:
        texts = HELP.get(type(view).__name__)
        if not texts:
            continue
        for attr, (tip, more) in texts.items():
            widget = view.__dict__.get(attr)
            if not isinstance(widget, QWidget):
                continue
            if not widget.toolTip():
                widget.setToolTip(tip)
            widget.setWhatsThis(more or widget.toolTip())
            count += 1
    for widget in views:
        if widget.toolTip() and not widget.whatsThis():
            widget.setWhatsThis(widget.toolTip())
    return count
