"""The end of DPTR pre-training: the decoder network alone, as a file fine-tuning starts from."""
import os.path as osp

from mmengine.dist import master_only
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmocr.registry import HOOKS

from clip4str_plugin.models.parseq.transfer import PretrainedDecoderError, save_decoder_file

#: What :class:`SaveDecoderHook` writes in the work dir.
DECODER_FILENAME = 'decoder_pretrained.safetensors'


def network_geometry(network) -> dict:
    """``decoder=dict(...)`` of a PARSeqNetwork, read from its modules."""
    embed_dim = network.head.in_features
    layer = network.layers[0]
    return dict(embed_dim=embed_dim, depth=len(network.layers),
                num_heads=layer.self_attn.num_heads,
                mlp_ratio=layer.linear1.out_features / embed_dim, dropout=network.dropout.p)


@HOOKS.register_module()
class SaveDecoderHook(Hook):
    """After training, write ``<work_dir>/decoder_pretrained.safetensors``: the decoder's one
    PARSeq network under its own tensor names, with JSON metadata (format, geometry,
    ``max_seq_len``, the dictionary's tokens and file, the last checkpoint, iteration and
    config). ``DecoderTransferHook(checkpoint=...)`` reads it directly. Rank 0 writes,
    atomically (temporary file, rename). A decoder with other than one network is refused
    before training starts (no lost run).
    """

    priority = 'LOW'   # after CheckpointHook's last save: the file names that checkpoint

    @staticmethod
    def _network(runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        decoder = getattr(model, 'decoder', None)
        networks = decoder.networks() if hasattr(decoder, 'networks') else {}
        if len(networks) != 1:
            raise PretrainedDecoderError(
                f'SaveDecoderHook writes one PARSeq network; the model\'s decoder '
                f'({type(decoder).__name__}) has {len(networks)}: {", ".join(networks) or "-"}')
        (network, ) = networks.values()
        return decoder, network

    def before_run(self, runner) -> None:
        self._network(runner)

    @master_only
    def after_train(self, runner) -> None:
        decoder, network = self._network(runner)
        path = osp.join(runner.work_dir, DECODER_FILENAME)
        meta = dict(geometry=network_geometry(network), max_seq_len=decoder.max_seq_len,
                    dictionary=list(decoder.dictionary.dict),
                    dict_file=getattr(decoder.dictionary, 'dict_file', None),
                    source_checkpoint=osp.basename(runner.message_hub.get_info('last_ckpt') or ''),
                    iteration=runner.iter, config=runner.cfg.filename)
        save_decoder_file(network, path, meta)
        runner.logger.info(f'SaveDecoderHook: wrote {path} ({len(network.state_dict())} tensors, '
                           f'{meta["geometry"]}; from {meta["source_checkpoint"]})')
