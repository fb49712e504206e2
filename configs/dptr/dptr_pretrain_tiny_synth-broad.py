# DPTR pre-training for the broad CPU experiments (docs/benchmarks.md): the text tower of the
# small CLIP trained here (assets/clip/clip_tiny_words.safetensors, as DPTR uses OpenAI's) reads
# every label spelled out (`h e l l o`: the captions it was trained on, at most 16 tokens), and
# ORP perturbs its memory with that CLIP's image features of rendered scenes (ORP_IMAGES, a
# folder; the bank is built once). The labels are those of the broad training set (images never
# read). The decoder has the geometry of clip4str-tiny_20min_synth-broad.py's two decoders (1
# layer, 4 heads of 32), so its file starts those and dptr_finetune_vit-tiny_synth-broad.py's
# decoder.
_base_ = ['dptr_pretrain_tiny_synth.py']

clip_weights = '{{ fileDirname }}/../../assets/clip/clip_tiny_words.safetensors'
broad_data_root = '{{$BROAD_DATA_ROOT:data/broad}}'
orp_bank = '{{$ORP_BANK:data/orp/broad_bank.safetensors}}'
text_length = 16
embed_dim = 128
# the small CLIP's image tower (clip4str-tiny_20min_synth-broad.py's backbone)
clip_image_tower = dict(type='CLIPVisionBackbone', embed_dim=embed_dim, image_size=(32, 128),
                        patch_size=(8, 8), width=128, layers=3, heads=2, pos_embed_init='sincos',
                        pretrained=clip_weights)
orp_images = '{{$ORP_IMAGES:data/orp/broad_scenes}}'
custom_hooks = [dict(_base_.orp_bank_hook, images=orp_images, tower=clip_image_tower),
                *_base_.custom_hooks[1:]]   # custom_hooks.0: the bank; then SaveDecoderHook
model = dict(
    backbone=dict(pretrained=clip_weights, text_length=text_length),
    encoder=dict(bank=orp_bank),
    decoder=dict(decoder=dict(depth=1, num_heads=4)))

# 12 characters at most in the broad preset; 14 fill the 16 positions with SOT and EOT
prompt = [dict(type='PackCLIPPrompt', template='{}', caption_style='spelled',
               context_length=text_length)]
_corpus = dict(_base_._corpus, data_root=broad_data_root, max_label_length=text_length - 2,
               pipeline=prompt)
train_dataloader = dict(dataset=dict(_corpus, ann_file='train', name='broad-train labels'))
val_dataloader = dict(dataset=dict(datasets=[
    dict(_corpus, ann_file='val', name='broad-val labels', charset=_base_.charset_36)]))
test_dataloader = val_dataloader
