# DPTR text-only pre-training (arXiv 2408.05706; OpenOCR dptr_parseq_pretrain.yml): a frozen CLIP
# text tower reads "a photo of a '<label>'"; its memory, perturbed by ORP, trains a PARSeq decoder
# with permutation language modelling. Labels come from any recognition LMDB (images are never
# read): by default those of Real's ArT LMDB, as the reference's config (train/real/ArT; the
# variant dptr_pretrain_clip-b16_real.py reads all of Real), 256 per GPU, DPTR's 20-epoch
# schedule. Checkpoints hold the decoder only. The configs set the text tower, its ORP bank and
# the decoder's width and depth.
# One command (tools/train.py): ORPBankHook builds the ORP bank from the images in ORP_IMAGES with
# the CLIP image tower the config names, when the bank file is missing (reused otherwise, its
# shape checked); SaveDecoderHook writes <work_dir>/decoder_pretrained.safetensors at the end,
# the file fine-tuning starts from (DecoderTransferHook).
_base_ = ['../_base_/default_runtime.py', '../_base_/models/parseq.py',
          '../_base_/schedules/dptr_adamw_onecycle.py']

orp_images = '{{$ORP_IMAGES:data/orp/natural_images}}'
# the configs put it first (custom_hooks.0), with tower=dict(type='CLIPVisionBackbone', ...)
orp_bank_hook = dict(type='ORPBankHook', images=orp_images, batch_size=32)
custom_hooks = [dict(type='SaveDecoderHook'), *_base_.custom_hooks]

model = dict(
    type='EncoderDecoderRecognizer',
    data_preprocessor=dict(type='TokenIdsDataPreprocessor'),
    backbone=dict(type='FrozenCLIPTextMemory'),
    encoder=dict(type='ORPPerturbation', weight=0.1),
    decoder=dict(_base_.parseq_head, type='PARSeqRecDecoder',
                 module_loss=_base_.dptr_module_loss))

text_pipeline = [dict(type='PackCLIPPrompt', template="a photo of a '{}'",
                      context_length=77)]
_corpus = dict(type='TextOnlyDataset', data_root=_base_.str_data_root,
               charset=_base_.charset_94, max_label_length=_base_.max_label_length,
               pipeline=text_pipeline)
train_dataloader = dict(_base_.str_train_loader, batch_size=256, num_workers=4,
                        dataset=dict(_corpus, ann_file='train/real/ArT', name='ArT labels'))
# text -> text decoding of the benchmarks' train-split labels, clean memory (no ORP): a
# sanity metric of pre-training, not a recognition accuracy
val_dataloader = dict(
    _base_.str_eval_loader, batch_size=256, num_workers=2,
    dataset=dict(type='ConcatDataset', pipeline=[], datasets=[
        dict(_corpus, ann_file='val', name='val labels', charset=_base_.charset_36)]))
val_evaluator = dict(_base_.val_str_evaluator, dataset_prefixes=['val-text'])
test_dataloader = val_dataloader
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(_base_.best_checkpoint, save_best='val-text/str/accuracy'))
