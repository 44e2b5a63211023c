# VQA on RTVPNet-S-mini (MMIOC-mini open split on a CPU; the vocabulary is
# the 6 unseen classes of data/mmioc_mini/annotations/open_val.json).
_base_ = ['../../../configs/rtvpnet_s_mini.py', './_base_/vqa_deepseek.py']

# a 1.5B model on a CPU: a shorter answer budget
vqa = dict(language_model=dict(max_new_tokens=256, batch_size=2))
