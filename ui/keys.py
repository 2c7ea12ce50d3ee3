"""Every session-state key of the app, in one place: widget keys and the values sessions keep between runs.

Widget keys stay stable across releases: links set them (ui.links) and the load tool drives widgets by key.
"""

from __future__ import annotations

# ---- the sidebar (app.py, ui.state)
WEIGHTS_SOURCE = "weights_source"
DEVICE = "device"
WEIGHTS_FILE = "weights_file"  # (name, bytes) of an uploaded checkpoint
CKPT_UPLOAD = "ckpt_upload"
WEIGHTS_ERROR = "weights_error"  # why the chosen weights were refused (shown in the sidebar)
WEIGHTS_SEEN = "weights_seen"  # the source auto gave this session last run
WEIGHTS_SWITCHED = "weights_switched"  # auto has just switched to ImageNet (the sidebar says so once)
MASK = "mask"  # the shortcut mask, one bool per block
SHORTCUTS_ALL = "shortcuts_all"


def shortcut(block: str) -> str:
    """The sidebar checkbox of one block's shortcut."""
    return f"sc_{block}"


# ---- the language (ui.text)
LANG = "lang"
LANG_SEEN = "lang_seen"  # the language of the previous run

# ---- the image picker (ui.picker)
IMAGE = "image"  # (name, bytes) of the chosen image; survives page changes
IMAGE_ERROR = "image_error"
IMAGE_DEFAULTED = "image_defaulted"  # True while the session has not chosen an image: the default follows the weights
PICK_HOW = "pick_how"
PICK_SAMPLE = "pick_sample"
PICK_UPLOAD = "pick_upload"
PICK_CAMERA = "pick_camera"

# ---- links (ui.links)
LINK_APPLIED = "link_applied"  # the first run's query has been read
LINK_NOTES = "link_notes"  # [(param, reason key, args, value shown)] of refused values
LINK_NOTES_PAGE = "link_notes_page"  # the page the notes belong to (they go when the visitor moves on)
LINK_PAGE = "link_page"  # the page a link named with ?page= (opened once navigation exists)

# ---- Architecture
ARCH_H = "arch_h"
ARCH_W = "arch_w"
ARCH_SQUARE = "arch_square"
ARCH_DETAIL = "arch_detail"
ARCH_FAMILY = "arch_family"

# ---- Feature maps
FM_LAYER = "fm_layer"
FM_BLOCK = "fm_block"
FM_CHANNEL = "fm_channel"
FM_SCALE = "fm_scale"
FM_SORT = "fm_sort"
FM_TILES = "fm_tiles"
FM_WHOLE = "fm_whole"
FM_DIFF = "fm_diff"
FM_LAST_CLICK = "fm_last_click"
FM_UNIT_LAYER = "fm_unit_layer"
FM_UNIT_CHANNEL = "fm_unit_channel"
FM_UNIT_ROW = "fm_unit_row"
FM_UNIT_COL = "fm_unit_col"
FM_UNIT_MAP = "fm_unit_map"
FM_UNIT_LAST_CLICK = "fm_unit_last_click"

# ---- Grad-CAM
CAM_STAGE = "cam_stage"
CAM_TARGET = "cam_target"
CAM_QUERY = "cam_query"
CAM_OPACITY = "cam_opacity"
CAM_SCALE = "cam_scale"
CAM_METHODS = "cam_methods"
CAM_METHODS_ON = "cam_methods_on"
CAM_METHODS_GO = "cam_methods_go"
CAM_BASELINE = "cam_baseline"
CAM_IG_STEPS = "cam_ig_steps"
CAM_WINDOW = "cam_window"
CAM_STRIDE = "cam_stride"
CAM_SANITY_ON = "cam_sanity_on"
CAM_SANITY_GO = "cam_sanity_go"
CAM_DELETION_ON = "cam_deletion_on"
CAM_DELETION_GO = "cam_deletion_go"
CAM_DEL_BASE = "cam_del_base"

# ---- Gradient flow
GF_WHICH = "gf_which"
GF_DEPTH = "gf_depth"
GF_BN = "gf_bn"
GF_SHORTCUT = "gf_shortcut"
GF_ZERO = "gf_zero"
GF_BATCH = "gf_batch"
GF_SEED = "gf_seed"
GF_QUANTITY = "gf_quantity"
GF_SHATTER = "gf_shatter"
GF_RESNET = "gf_resnet"
GF_WHY = "gf_why"
GF_DEEP = "gf_deep"
GF_STEPS = "gf_steps"
GF_LR = "gf_lr"
GF_OPT = "gf_opt"
GF_RUN_SEED = "gf_run_seed"
GF_TRAIN = "gf_train"
GF_STOP = "gf_stop"
GF_FINAL = "gf_final"
GF_PARTIAL = "gf_partial"  # (cache key, TrainResult) of a live run that a Stop click interrupted

# ---- Shortcut Lab
LAB_SET = "lab_set"
LAB_N = "lab_n"

# ---- Lecture
LECTURE_STEP = "lecture_step"  # 0-based
LECTURE_PRESENTER = "lecture_presenter"
LEC_PREV = "lec_prev"
LEC_NEXT = "lec_next"

# ---- Channels
CH_LAYER = "ch_layer"
CH_CHANNEL = "ch_channel"
CH_TARGET = "ch_target"  # x, F or out
CH_SIDE = "ch_side"
CH_EVERY = "ch_every"

# ---- Class rooms (ui.rooms: the Lecture's presenter panel, pages/7_Join.py)
ROOM_CODE = "room_code"  # the presenter's open room
ROOM_TOKEN = "room_token"  # its secret: only in the presenter's session state, never in a link
ROOM_NOTE = "room_note"  # a refusal (or the student's "saved"), shown once on the next run
ROOM_OPEN = "room_open"
ROOM_END = "room_end"
ROOM_ASK = "room_ask"
ROOM_CLOSE = "room_close"
ROOM_REOPEN = "room_reopen"
ROOM_RESET = "room_reset"
ROOM_REVEAL = "room_reveal"
ROOM_JOIN = "room_join"  # the room a student joined (from ?room= or typed)
ROOM_STUDENT = "room_student"  # this browser's anonymous answer id
ROOM_TYPED = "room_typed"
ROOM_JOIN_BUTTON = "room_join_button"
ROOM_LEAVE = "room_leave"
ROOM_LANG = "room_lang"  # the phone's own language switch


def room_choice(i: int) -> str:
    """A student's button for choice i (A, B, C...)."""
    return f"room_choice_{i}"


# Radios and selectboxes whose option texts are translated: a language switch keeps their choice (ui.text).
TRANSLATED_CHOICES = (WEIGHTS_SOURCE, PICK_HOW, PICK_SAMPLE, LAB_SET, FM_SCALE, GF_WHICH, GF_SHORTCUT, GF_QUANTITY,
                      CAM_TARGET, CAM_BASELINE, CAM_DEL_BASE, CAM_SCALE, CH_TARGET)
