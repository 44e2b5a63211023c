#!/usr/bin/env bash
# `make demo`: train RTVPNet-S-mini (with its exemplar encoder) on MMIOC-mini's
# open split with mim, test it on the unseen classes, draw its boxes for
# free-text prompts and its refined visual prompts (paper Fig. 13) on the same
# image, and finally, on an unseen-class image, what the text prompts find next
# to what 5-shot exemplar classes find (docs/exemplar_prompts.md).
#   DEMO_CONFIG=configs/... bash tools/demo.sh   (venv on PATH; run from a
#   directory holding $DATA, by default data/mmioc_mini: the repo root for
#   `make demo`)
#   DEMO_CFG_OPTIONS="train_cfg.max_epochs=2" ...  overrides for the training
#   step (e.g. a quick run through every step; the figures mean nothing then)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONFIG="${DEMO_CONFIG:-$REPO/configs/exemplar/rtvpnet_s_mini_exemplar.py}"
read -r -a CFG_OPTIONS <<< "${DEMO_CFG_OPTIONS:-}"
DATA="${DATA:-data/mmioc_mini}"
NAME="$(basename "${CONFIG%.py}")"
WORK_DIR="${WORK_DIR:-work_dirs/demo/$NAME}"
t0=$SECONDS

for f in "$CONFIG" "$DATA/annotations/open_val.json" "$DATA/texts/unseen_class_texts.json"; do
  [[ -e "$f" ]] || { echo "demo: missing $f (run: make data)" >&2; exit 1; }
done

echo "== demo 1/5: mim train mmdet $CONFIG  (work dir $WORK_DIR)"
mim train mmdet "$CONFIG" --work-dir "$WORK_DIR" \
  ${CFG_OPTIONS[@]+--cfg-options "${CFG_OPTIONS[@]}"}
# the final weights (validation runs on the seen classes, open_val_seen; the
# test below on the unseen ones, which no choice of epoch may look at)
CKPT="$(cat "$WORK_DIR/last_checkpoint")"

echo "== demo 2/5: mim test mmdet $CONFIG --checkpoint $CKPT  (unseen classes)"
mim test mmdet "$CONFIG" --checkpoint "$CKPT" --work-dir "$WORK_DIR/test" \
  --out "$WORK_DIR/test/predictions.pkl"

echo "== demo 3/5: free-text prompts on an unseen-class image"
read -r IMAGE PROMPTS < <(python - "$DATA" <<'PY'
import json, sys
root = sys.argv[1]
ann = json.load(open(f'{root}/annotations/open_val.json'))
cats = {c['id']: c['name'] for c in ann['categories']}
img_id = next(a['image_id'] for a in ann['annotations'])
image = next(i for i in ann['images'] if i['id'] == img_id)
names = sorted(set(cats.values()))
print(f"{root}/images/{image['file_name']}", '|'.join(names))
PY
)
IFS='|' read -r -a TEXTS <<< "$PROMPTS"
python "$REPO/tools/image_demo.py" "$CONFIG" "$CKPT" "$IMAGE" --texts "${TEXTS[@]}" \
  --out "$WORK_DIR/prediction.jpg" --score-thr 0.25

if python - "$CONFIG" <<'PY'
import sys
from mmengine.config import Config
sys.exit(0 if Config.fromfile(sys.argv[1]).model.get('visual_encoder') else 1)
PY
then
  echo "== demo 4/5: refined visual prompts on that image (paper Fig. 13)"
  python "$REPO/tools/analysis_tools/visualize_prompts.py" "$CONFIG" "$CKPT" "$IMAGE" \
    --ann-file "$DATA/annotations/open_val.json" --out-dir "$WORK_DIR/prompt_maps" \
    --map score --level mean
else
  echo "== demo 4/5: skipped ($CONFIG has no visual prompts)"
fi

if python - "$CONFIG" <<'PY'
import sys
from mmengine.config import Config
sys.exit(0 if Config.fromfile(sys.argv[1]).model.get('exemplar_encoder') else 1)
PY
then
  echo "== demo 5/5: text prompts vs 5-shot exemplar classes on an unseen-class image"
  python "$REPO/tools/analysis_tools/exemplar_demo.py" "$CONFIG" "$CKPT" \
    --data-root "$DATA" --shots 5 --out "$WORK_DIR/text_vs_exemplars.jpg" --score-thr 0.25
else
  echo "== demo 5/5: skipped ($CONFIG has no exemplar encoder)"
fi

python - "$WORK_DIR" "$CKPT" "$((SECONDS - t0))" <<'PY'
import glob, json, os, sys
work_dir, ckpt, secs = sys.argv[1], sys.argv[2], int(sys.argv[3])
logs = sorted(glob.glob(f'{work_dir}/test/*/*.json'), key=os.path.getmtime)
metrics = json.load(open(logs[-1])) if logs else {}
# the training's last validation (seen classes of the open split)
seen = {}
scalars = sorted(glob.glob(f'{work_dir}/*/vis_data/scalars.json'), key=os.path.getmtime)
if scalars:
    for line in open(scalars[-1]):
        record = json.loads(line)
        if 'coco/bbox_mAP' in record:
            seen = record
print('\n== demo summary')
print(f'  wall time           : {secs // 60} min {secs % 60} s')
for key in ('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75', 'bbox_mAP_s', 'bbox_mAP_m', 'bbox_mAP_l'):
    val = metrics.get(f'coco/{key}')
    if val is not None:
        print(f'  unseen {key:13s}: {val:.3f}')
for key in ('bbox_mAP', 'bbox_mAP_50'):
    val = seen.get(f'coco/{key}')
    if val is not None:
        print(f'  seen   {key:13s}: {val:.3f}  (last validation, epoch {seen.get("step")})')
print(f'  checkpoint          : {ckpt}')
print(f'  test log / metrics  : {logs[-1] if logs else "(none)"}')
print(f'  predictions (pkl)   : {work_dir}/test/predictions.pkl')
print(f'  drawn prediction    : {work_dir}/prediction.jpg')
if os.path.exists(f'{work_dir}/text_vs_exemplars.jpg'):
    print(f'  text vs exemplars   : {work_dir}/text_vs_exemplars.jpg')
maps = sorted(glob.glob(f'{work_dir}/prompt_maps/*.png'))
if maps:
    print(f'  visual prompt map   : {maps[0]}')
PY
