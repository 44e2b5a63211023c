# The VQA stage of RTVPNet (paper section 4.7): the detections become a
# structured prompt for a frozen DeepSeek-R1-Distill-Qwen-1.5B (the paper's
# family); checkable questions are also answered from the detections.
custom_imports = dict(
    imports=['projects.rtvpnet_vqa.rtvpnet_vqa'], allow_failed_imports=False)

vqa = dict(
    # detections below this score are not shown to the language model and
    # do not count in the deterministic answers
    score_thr=0.3,
    # the class hierarchy and vocabulary (MMIOC annotation JSON); None: the
    # annotation file of test_dataloader
    ann_file=None,
    prompt_builder=dict(max_detections=20, include_rule_answer=True),
    language_model=dict(
        type='FrozenCausalLM',
        # a local directory or a hub id already in the Hugging Face cache;
        # never downloaded
        model_name_or_path='deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B',
        # R1 models reason (<think>...</think>) before they answer
        max_new_tokens=512,
        batch_size=4))
