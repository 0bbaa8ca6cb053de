from typing import Literal, Optional, Sequence, Tuple, Union, overload

import numpy as np
import numpy.typing as npt

from ._dropkit import fold_in as fold_in, mask_len as mask_len

MaskShapeSpec = Union[
    None,
    Literal["elementwise", "channels_first", "channels_last", "per_sample",
            "locked_time_major", "locked_batch_major"],
    Sequence[int],
]
Scaling = Literal["inverted", "classic", "alpha"]

__version__: str

def mask_words(elements: int) -> int: ...

class Dropout:
    scaling: Scaling
    def __init__(self, p: float, *, seed: int = 0, scaling: Scaling = "inverted") -> None: ...
    @property
    def p(self) -> float: ...
    @property
    def seed(self) -> int: ...
    @overload
    def forward(self, x: npt.NDArray, stream: int = 0, offset: int = 0, *,
                out: Optional[npt.NDArray] = None, mask_shape: MaskShapeSpec = None,
                mask: None = None, bias: Optional[npt.NDArray] = None,
                residual: Optional[npt.NDArray] = None) -> npt.NDArray: ...
    @overload
    def forward(self, x: npt.NDArray, stream: int = 0, offset: int = 0, *,
                out: Optional[npt.NDArray] = None, mask_shape: MaskShapeSpec = None,
                mask: Literal["bits", "bytes"], bias: Optional[npt.NDArray] = None,
                residual: Optional[npt.NDArray] = None) -> Tuple[npt.NDArray, npt.NDArray]: ...
    @overload
    def backward(self, dy: npt.NDArray, stream: int = 0, offset: int = 0, *,
                 out: Optional[npt.NDArray] = None, mask_shape: MaskShapeSpec = None,
                 mask: Optional[npt.NDArray] = None,
                 dbias: Union[None, Literal[False], npt.NDArray] = None) -> npt.NDArray: ...
    @overload
    def backward(self, dy: npt.NDArray, stream: int = 0, offset: int = 0, *,
                 out: Optional[npt.NDArray] = None, mask_shape: MaskShapeSpec = None,
                 mask: Optional[npt.NDArray] = None,
                 dbias: Literal[True]) -> Tuple[npt.NDArray, npt.NDArray]: ...
    def inference(self, x: npt.NDArray, *, out: Optional[npt.NDArray] = None) -> npt.NDArray: ...
    def mask(self, shape: Union[int, Sequence[int]], stream: int = 0, offset: int = 0, *,
             mask_shape: MaskShapeSpec = None, kind: Literal["bits", "bytes"] = "bits",
             out: Optional[npt.NDArray] = None) -> npt.NDArray: ...
