#!/usr/bin/env bash
# The four crackgan steps in order, as `make demo` runs them. Settings come from the
# environment (the Makefile passes its DEMO_* variables); see the Makefile for each.
set -euo pipefail

say() {
    echo "== make demo: $*"
}

started=$SECONDS

# Use the user's photos when there are any; otherwise draw the procedural set, kept
# apart in its own folder so photos added to data/images later are never mixed in.
photo_count=0
if [ -d "$IMAGES" ]; then
    photo_count="$(find "$IMAGES" -type f \( -iname '*.jpg' -o -iname '*.jpeg' \
        -o -iname '*.png' -o -iname '*.webp' -o -iname '*.bmp' -o -iname '*.tif' \
        -o -iname '*.tiff' -o -iname '*.gif' \) | wc -l)"
fi
if [ "$photo_count" -gt 0 ]; then
    input="$IMAGES"
    say "using your $photo_count photos in $input"

    # A photo's label is its folder's name, so the label trained on needs a folder.
    if [ -z "$(find "$IMAGES" -type d -name "$DEMO_LABEL" -print -quit)" ]; then
        echo "make demo: no folder named '$DEMO_LABEL' under $IMAGES, so no photo has" \
            "that label (a photo's label is the name of the folder it is in)." >&2
        echo "Fix: put those photos in $IMAGES/$DEMO_LABEL/, or train on one of your" \
            "folder names: make demo DEMO_LABEL=<folder name>" >&2
        exit 2
    fi
else
    input="$DEMO_DATA"
    say "no photos in $IMAGES, so using a PROCEDURAL demo set (drawings, not photos)"
    say "written to $input, not to $IMAGES: put real photos in $IMAGES/<label>/ later"
    "$PYTHON_BIN" -m crackgan.demo_data --out "$input" --count "$DEMO_COUNT" \
        --seed "$DEMO_SEED"
fi

say "1/4 data_preprocessing.py"
"$PYTHON_BIN" data_preprocessing.py --input "$input" --output outputs/cache \
    --resolution "$DEMO_RESOLUTION"

say "2/4 train_gan.py (label $DEMO_LABEL, at most $DEMO_MINUTES min)"
# shellcheck disable=SC2086  # DEMO_FRESH and DEMO_TRAIN_FLAGS are flags or nothing.
"$PYTHON_BIN" train_gan.py --data outputs/cache --run-dir outputs/run \
    --label "$DEMO_LABEL" --steps "$DEMO_STEPS" --max-minutes "$DEMO_MINUTES" \
    $DEMO_FRESH ${DEMO_TRAIN_FLAGS:-}

say "3/4 generate_images.py ($DEMO_NUM images)"
"$PYTHON_BIN" generate_images.py --run-dir outputs/run --out outputs/generated \
    --num "$DEMO_NUM" --label "$DEMO_LABEL"

say "4/4 evaluate.py"
# shellcheck disable=SC2086  # DEMO_EVAL_FLAGS holds several flags or nothing.
"$PYTHON_BIN" evaluate.py --data outputs/cache --generated outputs/generated \
    --out outputs/report --label "$DEMO_LABEL" ${DEMO_EVAL_FLAGS:-}

say "done in $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s"
say "real images:      outputs/cache/reals.png"
say "training samples: outputs/run/samples/ (latest last), losses: outputs/run/losses.png"
say "generated:        outputs/generated/grid.png and $DEMO_NUM PNGs beside it"
say "report:           outputs/report/report.md (numbers in report.json)"
if [ "$input" = "$DEMO_DATA" ]; then
    say "these results are on PROCEDURAL images, not photos: they show the pipeline"
    say "works, not how well it does on real cracked screens"
fi
