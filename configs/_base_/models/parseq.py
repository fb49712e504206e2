# The PARSeq decoder that CLIP4STR and DPTR share, and DPTR's recogniser built on it, which both
# DPTR fine-tuning recipes use (configs/dptr: the reference one, and the CPU-scale one on the main
# job's recipe). Inherits the data base for max_label_length.
_base_ = ['../datasets/str_lmdb.py']

# The output alphabet: the 94 characters of the training labels (plus [E]).
dictionary = dict(
    type='PARSeqDictionary',
    dict_file='{{ fileDirname }}/../../../clip4str_plugin/dicts/charset_94.txt')

# PARSeq's decoding: 8 heads, MLP ratio 4, dropout 0.1, K=6 permutations, one refinement pass.
# A model adds the decoder type, its module loss and the layers' width and depth
# (decoder.embed_dim, decoder.depth).
parseq_head = dict(
    dictionary=dictionary,
    decoder=dict(num_heads=8, mlp_ratio=4.0, dropout=0.1),
    postprocessor=dict(type='PARSeqPostprocessor'),
    max_seq_len=_base_.max_label_length,
    num_perms=6,
    refine_iters=1)

# DPTR's permutation loss: OpenOCR pads every label to 25 characters, so its 6 orders always
# span 25 positions (PLMModuleLoss cuts them to the batch); CLIP4STR draws them per batch.
dptr_module_loss = dict(type='PLMModuleLoss', padded_orders=True)

# DPTR's recogniser for 32x128 images: a ViT trained from scratch, the Feature Merge Unit (one
# query per output position and [E]) and a PARSeq decoder (pre-trained by DPTR), normalisation
# 0.5 / 0.5. A config adds the widths and depths (backbone, encoder, decoder.decoder).
dptr_recognizer = dict(
    type='EncoderDecoderRecognizer',
    data_preprocessor=dict(type='TextRecogDataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3,
                           bgr_to_rgb=True),
    backbone=dict(type='ViTBackbone', img_size=(32, 128)),
    encoder=dict(type='FeatureMergeUnit', num_queries=_base_.max_label_length + 1, num_heads=8),
    decoder=dict(parseq_head, type='PARSeqRecDecoder', module_loss=dptr_module_loss))

# DPTR's recogniser at CPU scale (configs/dptr/dptr_finetune_vit-tiny_*.py): a ViT of 8x8 patches,
# 3 layers of width 128 from scratch, the FMU and a decoder of that width, no dropout
dptr_tiny = dict(
    dptr_recognizer,
    backbone=dict(dptr_recognizer['backbone'], patch_size=(8, 8), embed_dim=128, depth=3,
                  num_heads=2),
    encoder=dict(dptr_recognizer['encoder'], embed_dim=128, dropout=0.0),
    decoder=dict(dptr_recognizer['decoder'],
                 decoder=dict(parseq_head['decoder'], embed_dim=128, dropout=0.0)))
