# DPTR text-only pre-training (arXiv 2408.05706; OpenOCR dptr_parseq_pretrain.yml): a frozen
# CLIP ViT-B/16 text tower reads "a photo of a '<label>'"; its 78 x 512 memory, perturbed by ORP,
# trains a 6-layer PARSeq decoder with permutation language modelling. Labels come from any
# recognition LMDB (images are never read). Checkpoints hold the decoder only.
_base_ = ['../_base_/default_runtime.py', '../clip4str/_base_/datasets/str_lmdb.py',
          '_base_dptr_schedule.py']

clip_pretrained = 'data/clip/ViT-B-16.pt'
orp_bank = 'data/orp/clip_vitb16_bank.safetensors'   # tools/extract_orp_bank.py

dictionary = dict(
    type='PARSeqDictionary',
    dict_file='{{ fileDirname }}/../../clip4str_plugin/dicts/charset_94.txt')
model = dict(
    type='EncoderDecoderRecognizer',
    data_preprocessor=dict(type='TokenIdsDataPreprocessor'),
    backbone=dict(type='FrozenCLIPTextMemory', pretrained=clip_pretrained, embed_dim=512,
                  width=512, layers=12),
    encoder=dict(type='ORPPerturbation', bank=orp_bank, weight=0.1),
    decoder=dict(
        type='PARSeqRecDecoder',
        dictionary=dictionary,
        decoder=dict(embed_dim=512, depth=6, num_heads=8, mlp_ratio=4.0, dropout=0.1),
        module_loss=dict(type='PLMModuleLoss'),
        postprocessor=dict(type='PARSeqPostprocessor'),
        max_seq_len=25,
        num_perms=6,
        refine_iters=1))

text_pipeline = [dict(type='PackCLIPPrompt', template="a photo of a '{}'",
                      context_length=77)]
_corpus = dict(type='TextOnlyDataset', data_root=_base_.str_data_root,
               charset=_base_.charset_94, max_label_length=25, pipeline=text_pipeline)
train_dataloader = dict(
    batch_size=256,
    num_workers=4,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(_corpus, ann_file='train/real', name='Real labels'))
# text -> text decoding of the benchmarks' train-split labels, clean memory (no ORP): a
# sanity metric of pre-training, not a recognition accuracy
val_dataloader = dict(
    batch_size=256,
    num_workers=2,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ConcatDataset', pipeline=[], datasets=[
        dict(_corpus, ann_file='val', name='val labels', charset=_base_.charset_36)]))
val_evaluator = dict(
    type='WeightedMultiDatasetsEvaluator',
    metrics=[dict(type='STRBenchmarkMetric', charset='36')],
    dataset_prefixes=['val-text'])
test_dataloader = val_dataloader
test_evaluator = val_evaluator
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3,
                    save_best='val-text/str/accuracy', rule='greater'))
auto_scale_lr = dict(enable=False, base_batch_size=512)
