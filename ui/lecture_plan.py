"""The lecture's plan: its steps in order, their title and body keys, and the two questions. No imports: Home
counts the steps on the first view after a server start, before the library has loaded (ui.first_view)."""

STEPS = ("degradation", "residual", "block", "stages", "features", "gradcam", "off", "ask_grad", "grad",
         "ask_lesion", "lesion")
TITLE_KEYS = {"degradation": "lec.degradation.title", "residual": "lec.residual.title", "block": "lec.block.title",
              "stages": "lec.stages.title", "features": "lec.features.title", "gradcam": "lec.gradcam.title",
              "off": "lec.off.title", "ask_grad": "lec.ask_grad.title", "grad": "lec.grad.title",
              "ask_lesion": "lec.ask_lesion.title", "lesion": "lec.lesion.title"}
BODY_KEYS = {"degradation": "lec.degradation.body", "residual": "lec.residual.body", "block": "lec.block.body",
             "stages": "lec.stages.body", "features": "lec.features.body", "gradcam": "lec.gradcam.body",
             "off": "lec.off.body", "ask_grad": "lec.ask_grad.body", "grad": "lec.grad.body",
             "ask_lesion": "lec.ask_lesion.body", "lesion": "lec.lesion.body"}
# A question step -> the step that reveals its measured answer (the next click).
QUESTIONS = {"ask_grad": "grad", "ask_lesion": "lesion"}
# A question's choices, shown on the slide as A, B, C.
CHOICES = {"ask_grad": ("lec.ask_grad.choice_a", "lec.ask_grad.choice_b", "lec.ask_grad.choice_c"),
           "ask_lesion": ("lec.ask_lesion.choice_a", "lec.ask_lesion.choice_b", "lec.ask_lesion.choice_c")}
# A step -> the presenter's note (in the presenter's sidebar only, never projected); a question carries the note of
# the study it asks about, its reveal a note of its own.
NOTES = {"gradcam": "lec.gradcam.presenter", "off": "lec.off.presenter", "ask_grad": "lec.ask_grad.presenter",
         "grad": "lec.grad.presenter", "ask_lesion": "lec.lesion.presenter", "lesion": "lec.lesion.presenter_reveal"}
