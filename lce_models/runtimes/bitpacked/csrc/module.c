/* The Python module stub: setuptools builds the library as an extension of the normal install;
 * Python code reaches it through ctypes. */
#include <Python.h>

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_bconv", "Bit-packed binary convolution (ctypes).", -1, NULL};

PyMODINIT_FUNC PyInit__bconv(void) { return PyModule_Create(&module); }
