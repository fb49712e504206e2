# The reference's image pipelines: decode, PARSeq RandAugment (training images only), PIL bicubic
# resize to the model input without keeping the aspect ratio, pack. A config takes the three
# values of one size: input_size (w, h), train_pipeline and test_pipeline. CheckImageArray
# makes grey / BGRA arrays BGR and refuses float, empty or 4-D ones (inferencers' inputs).


def _stretch_resize(input_size):
    load = dict(type='LoadImageFromNDArray')
    check = dict(type='CheckImageArray')
    resize = dict(type='Resize', scale=input_size, keep_ratio=False, backend='pillow',
                  interpolation='bicubic')
    pack = [dict(type='LoadOCRAnnotations', with_text=True),
            dict(type='PackTextRecogInputs',
                 meta_keys=('img_path', 'ori_shape', 'img_shape', 'valid_ratio'))]
    augment = dict(type='PARSeqRandAugment', num_ops=3, magnitude=5)
    return dict(input_size=input_size, train_pipeline=[load, check, augment, resize, *pack],
                test_pipeline=[load, check, resize, *pack])


stretch_224x224 = _stretch_resize((224, 224))   # CLIP's input: CLIP4STR
stretch_32x128 = _stretch_resize((128, 32))     # DPTR fine-tuning, the tiny CLIP4STR
