#!/usr/bin/env bash
# Distributed training on one machine: bash tools/dist_train.sh CONFIG NPROC [train.py args]
# GPUs: one process per GPU with NCCL. No GPU: NPROC CPU processes with gloo
# (MMIOCRunner picks the backend), e.g. `bash tools/dist_train.sh CFG 2`.
CONFIG=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}

PYTHONPATH="$(dirname "$0")/..":${PYTHONPATH:-} \
$PYTHON -m torch.distributed.run \
    --nnodes=$NNODES \
    --node_rank=$NODE_RANK \
    --master_addr=$MASTER_ADDR \
    --nproc_per_node=$NPROC \
    --master_port=$PORT \
    "$(dirname "$0")/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
