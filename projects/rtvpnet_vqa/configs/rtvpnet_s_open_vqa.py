# VQA on RTVPNet-S (paper settings, MMIOC-1M open split, unseen-class
# vocabulary) with a frozen DeepSeek-R1-Distill-Qwen-1.5B.
_base_ = ['../../../configs/rtvpnet_s_open.py', './_base_/vqa_deepseek.py']
