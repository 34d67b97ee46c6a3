/*
 * py_value.c -- the C base of Python's Value: its node index, its operands,
 * its operators, and the reference it gives back when it is freed.
 *
 * The one file of the core that knows Python: it is built into the cffi
 * module with the rest, under CPython's limited API. The cffi function
 * mg_py_handle_type() makes the type, micrograd_c._cmg.Handle, once per
 * process; Python's Handle (_handles.py), then Value (engine.py), subclass
 * it.
 *
 * Ownership. A handle's `_i` is an int, its node's index, set last, after
 * everything that can fail: a handle with `_i` owns one reference on that
 * node. When the handle is freed (tp_dealloc, no Python code), the index
 * is filed in `dead`, and every DEAD_BATCH filed indices go back to C in one
 * mg_decref_many call; _flush() gives back the rest (before backward, in
 * stats(), at exit). `_a` and `_b` hold the operands (engine.py says what
 * else they may hold).
 *
 * The operators. For an operand of the exact class Value installed by
 * _install() (by the first interpreter to call it) and an exact float, int
 * or Value, the node is made here in one C call and the result built with
 * no Python code run, so no exception can come between the two: a failed
 * allocation gives the reference back at once. Everything else (a
 * subclass, another number type, any error C reports) goes to the Python
 * method `_slow(name, other)` of the operand, which does what it always did
 * and raises the error. The GIL is held throughout: an op takes ~100 ns,
 * and the core's lock is never held by a thread waiting for the GIL.
 *
 * Threads: every static here is touched only with the GIL held (dealloc,
 * operators and methods all run under it).
 */
#define Py_LIMITED_API 0x030A0000
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include "micrograd.h"

typedef struct {
    PyObject_HEAD
    PyObject *i;    /* the node's index, an int; NULL until set (then owned) */
    PyObject *a, *b; /* operands (or what engine.py keeps there); may be NULL */
} Handle;

enum { DEAD_BATCH = 1024 };
static int dead[DEAD_BATCH]; /* indices of freed handles, not yet given back */
static int ndead;

static PyObject *handle_type;     /* this type, made once per process */
static PyTypeObject *value_type; /* the class the fast paths make (a reference) */
static int64_t value_interp = -1; /* the interpreter that installed it */

/* Give every filed index back to C. */
static void flush_dead(void)
{
    if (ndead) {
        mg_decref_many(dead, ndead);
        ndead = 0;
    }
}

static int traverse(PyObject *self, visitproc visit, void *arg)
{
    Handle *h = (Handle *)self;
    Py_VISIT(Py_TYPE(self)); /* a heap type's instances keep it alive */
    Py_VISIT(h->a);
    Py_VISIT(h->b);
    return 0;
}

static int clear(PyObject *self)
{
    Handle *h = (Handle *)self;
    Py_CLEAR(h->a);
    Py_CLEAR(h->b);
    return 0;
}

/* File the index of an owned node (an exact int in range; anything a user
 * put in `_i` instead is let go), then free the handle as a heap type's
 * base must: its type's tp_free, then one reference on the type. */
static void dealloc(PyObject *self)
{
    Handle *h = (Handle *)self;
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    PyObject *i = h->i;
    h->i = NULL;
    if (i != NULL && PyLong_CheckExact(i)) {
        int overflow = 0;
        long v = PyLong_AsLongAndOverflow(i, &overflow); /* (cannot fail on an exact int) */
        if (!overflow && v >= 0 && v <= INT32_MAX) {
            dead[ndead++] = (int)v;
            if (ndead == DEAD_BATCH)
                flush_dead();
        }
    }
    Py_XDECREF(i);
    clear(self);
    freefunc free_it = (freefunc)PyType_GetSlot(type, Py_tp_free);
    free_it(self);
    Py_DECREF(type);
}

/* Whether handle x has an index (an exact int in range), in *i. */
static int index_of(PyObject *x, int *i)
{
    PyObject *index = ((Handle *)x)->i;
    if (index == NULL || !PyLong_CheckExact(index))
        return 0;
    int overflow = 0;
    long v = PyLong_AsLongAndOverflow(index, &overflow);
    *i = (int)v;
    return !overflow && v >= 0 && v <= INT32_MAX;
}

/* Whether x is a Value the fast paths take, with its index in *i. */
static int fast(PyObject *x, int *i)
{
    return Py_TYPE(x) == value_type && index_of(x, i);
}

/* Handle x's node, or NULL where index_of fails or the index is past the
 * chunks (then Python's path raises). */
static mg_node *node_of(PyObject *x)
{
    int i;
    mg_node *chunk = index_of(x, &i) ? mg_chunk(i >> MG_CHUNK_SHIFT) : NULL;
    return chunk != NULL ? chunk + (i & (MG_CHUNK_NODES - 1)) : NULL;
}

/* Whether x is an exact float or int, with its value in *d (an int too big
 * for a double is not: Python raises OverflowError for it). */
static int number(PyObject *x, double *d, int *is_int)
{
    *is_int = PyLong_CheckExact(x);
    if (PyFloat_CheckExact(x)) {
        *d = PyFloat_AsDouble(x);
        return 1;
    }
    if (!*is_int)
        return 0;
    *d = PyLong_AsDouble(x);
    if (*d == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    return 1;
}

/* A new Value on node r (a created node: its reference is handed over)
 * with operands a and b (b may be NULL); NULL, with the reference given
 * back, if memory runs out. */
static PyObject *made(int r, PyObject *a, PyObject *b)
{
    PyObject *out = PyType_GenericAlloc(value_type, 0);
    PyObject *i = out != NULL ? PyLong_FromLong(r) : NULL;
    if (i == NULL) {
        Py_XDECREF(out); /* (no _i yet: its dealloc gives nothing back) */
        mg_decref(r);
        return NULL;
    }
    Handle *h = (Handle *)out;
    Py_INCREF(a);
    h->a = a;
    Py_XINCREF(b);
    h->b = b;
    h->i = i; /* last: from here on, the handle owns the reference */
    return out;
}

/* One binary operator: the C calls for a Value and a Value (both, NULL if
 * there are none), a Value and a number (num, num_int where the number is
 * an int), a number and a Value (rnum, NULL for none), and the Python names
 * of the operator and its reflection. */
typedef struct {
    int (*both)(int, int);
    int (*num)(int, double);
    int (*num_int)(int, double);
    int (*rnum)(int, double);
    const char *name, *rname;
} binary_op;

/* The operator done in Python: the method _slow_op(name, other, err) of x if
 * it is a handle, else the reflected one of y. err: 0, or the error C
 * returned (nothing was made), for Python to raise. */
static PyObject *slow(PyObject *x, PyObject *y, const binary_op *op, int err)
{
    if (PyObject_TypeCheck(x, (PyTypeObject *)handle_type))
        return PyObject_CallMethod(x, "_slow_op", "sOi", op->name, y, err);
    return PyObject_CallMethod(y, "_slow_op", "sOi", op->rname, x, err);
}

/* x op y, for the number slots (x or y is a handle). */
static PyObject *binary(const binary_op *op, PyObject *x, PyObject *y)
{
    int i, j, is_int, called = 0, r = 0;
    double d;
    PyObject *value = x, *b = NULL; /* the Value the result is of, and its other operand */
    if (fast(x, &i)) {
        if (op->both && fast(y, &j)) {
            r = op->both(i, j);
            b = y;
            called = 1;
        } else if (number(y, &d, &is_int)) {
            r = (is_int ? op->num_int : op->num)(i, d);
            called = 1;
        }
    } else if (op->rnum && fast(y, &j) && number(x, &d, &is_int)) {
        r = op->rnum(j, d);
        value = y;
        called = 1;
    }
    if (called && r >= 0)
        return made(r, value, b);
    return slow(x, y, op, called ? r : 0);
}

static const binary_op ADD = {mg_add, mg_add_const, mg_add_const, mg_add_const, "__add__",
                              "__radd__"};
static const binary_op SUB = {mg_sub, mg_sub_const, mg_sub_const, mg_rsub, "__sub__",
                              "__rsub__"};
static const binary_op MUL = {mg_mul, mg_mul_const, mg_mul_const, mg_mul_const, "__mul__",
                              "__rmul__"};
static const binary_op DIV = {mg_div, mg_div_const, mg_div_const, mg_rdiv, "__truediv__",
                              "__rtruediv__"};
static const binary_op POW = {mg_pow, mg_powf, mg_powi, NULL, "__pow__", "__rpow__"};
static const binary_op LOGADDEXP = {mg_logaddexp, mg_logaddexp_const, mg_logaddexp_const, NULL,
                                    "logaddexp", "logaddexp"};

static PyObject *nb_add(PyObject *x, PyObject *y) { return binary(&ADD, x, y); }
static PyObject *nb_sub(PyObject *x, PyObject *y) { return binary(&SUB, x, y); }
static PyObject *nb_mul(PyObject *x, PyObject *y) { return binary(&MUL, x, y); }
static PyObject *nb_div(PyObject *x, PyObject *y) { return binary(&DIV, x, y); }

static PyObject *nb_pow(PyObject *x, PyObject *y, PyObject *modulo)
{
    if (modulo != Py_None)
        Py_RETURN_NOTIMPLEMENTED; /* pow(x, y, m): as micrograd, a TypeError */
    return binary(&POW, x, y);
}

static PyObject *nb_neg(PyObject *x) /* -x is x * -1, as micrograd */
{
    int i, r = 0; /* (0: no C call made, or none failed) */
    if (fast(x, &i) && (r = mg_mul_const(i, -1.0)) >= 0)
        return made(r, x, NULL);
    PyObject *minus_one = PyLong_FromLong(-1);
    PyObject *out = minus_one ? PyObject_CallMethod(x, "_slow_op", "sOi", "__mul__", minus_one, r)
                              : NULL;
    Py_XDECREF(minus_one);
    return out;
}

/* A unary method: the node f makes over x, or the Python method's answer
 * (an error, or x not a Value the fast paths take). */
static PyObject *unary(PyObject *x, int (*f)(int), const char *name)
{
    int i, r = 0; /* (0: no C call made, or none failed) */
    if (fast(x, &i) && (r = f(i)) >= 0)
        return made(r, x, NULL);
    return PyObject_CallMethod(x, "_slow_op", "sOi", name, Py_None, r);
}

static PyObject *logaddexp(PyObject *x, PyObject *y) { return binary(&LOGADDEXP, x, y); }

static PyObject *relu(PyObject *x, PyObject *unused) { (void)unused; return unary(x, mg_relu, "relu"); }
static PyObject *tanh_(PyObject *x, PyObject *unused) { (void)unused; return unary(x, mg_tanh, "tanh"); }
static PyObject *exp_(PyObject *x, PyObject *unused) { (void)unused; return unary(x, mg_exp, "exp"); }
static PyObject *log_(PyObject *x, PyObject *unused) { (void)unused; return unary(x, mg_log, "log"); }
static PyObject *sigmoid(PyObject *x, PyObject *unused) { (void)unused; return unary(x, mg_sigmoid, "sigmoid"); }
static PyObject *softplus(PyObject *x, PyObject *unused) { (void)unused; return unary(x, mg_softplus, "softplus"); }

/* Value(x) for an exact float or int x, the first time (a new leaf, as
 * Python's _init makes it); anything else (children, an op, another type of
 * number, __init__ run again, an error) is the Python method _init's. */
static int init(PyObject *self, PyObject *args, PyObject *kwargs)
{
    Handle *h = (Handle *)self;
    double d;
    int is_int, r = -1;
    if (h->i == NULL && (kwargs == NULL || PyDict_Size(kwargs) == 0) && PyTuple_Size(args) == 1
        && number(PyTuple_GetItem(args, 0), &d, &is_int) && (r = mg_leaf(d)) >= 0) {
        h->i = PyLong_FromLong(r); /* last, and nothing before it can fail */
        if (h->i == NULL)
            mg_decref(r);
        return h->i == NULL ? -1 : 0;
    }
    PyObject *method = PyObject_GetAttrString(self, "_init");
    PyObject *done = method != NULL ? PyObject_Call(method, args, kwargs) : NULL;
    Py_XDECREF(method);
    Py_XDECREF(done);
    return done == NULL ? -1 : 0;
}

/* Handle._install(Value): the class the fast paths make and take. Only the
 * first interpreter to call it is heard (another's Values go the slow way):
 * again from it (a reload), the class is replaced. */
static PyObject *install(PyObject *cls, PyObject *value)
{
    (void)cls;
    int64_t interp = PyInterpreterState_GetID(PyInterpreterState_Get());
    if (!PyType_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "_install takes the Value class");
        return NULL;
    }
    if (value_interp == -1 || value_interp == interp) {
        Py_INCREF(value);
        Py_XDECREF(value_type); /* (instances of an old class keep it alive) */
        value_type = (PyTypeObject *)value;
        value_interp = interp;
    }
    Py_RETURN_NONE;
}

static PyObject *flush(PyObject *cls, PyObject *unused)
{
    (void)cls, (void)unused;
    flush_dead();
    Py_RETURN_NONE;
}

/* The indices filed and not given back yet, as a list. */
static PyObject *pending(PyObject *cls, PyObject *unused)
{
    (void)cls, (void)unused;
    PyObject *out = PyList_New(ndead);
    for (int k = 0; out != NULL && k < ndead; k++) {
        PyObject *i = PyLong_FromLong(dead[k]);
        if (i == NULL || PyList_SetItem(out, k, i) < 0)
            Py_CLEAR(out);
    }
    return out;
}

/* .data (closure 0) and .grad (1): read in place; data written through C
 * (mg_set_data, which then knows to check the may-fail rules), a grad in
 * place, as the views of _core.py do. Where the handle has no node, or the
 * value is not an exact float or int, Python's _slow_get and _slow_set. */
static PyObject *get_double(PyObject *self, void *which)
{
    mg_node *n = node_of(self);
    if (n == NULL)
        return PyObject_CallMethod(self, "_slow_get", "i", which != NULL);
    return PyFloat_FromDouble(which != NULL ? n->grad : n->data);
}

static int set_double(PyObject *self, PyObject *value, void *which)
{
    double d;
    int is_int, i;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete a Value's data or grad");
        return -1;
    }
    if (number(value, &d, &is_int) && index_of(self, &i)) {
        mg_node *n = which != NULL ? node_of(self) : NULL;
        if (which == NULL ? mg_set_data(i, d) == 0 : n != NULL) {
            if (n != NULL)
                n->grad = d;
            return 0;
        }
    }
    PyObject *done = PyObject_CallMethod(self, "_slow_set", "iO", which != NULL, value);
    Py_XDECREF(done);
    return done == NULL ? -1 : 0;
}

static PyGetSetDef getset[] = {
    {"data", get_double, set_double, "The value.", NULL},
    {"grad", get_double, set_double, "The gradient accumulated by backward().", (void *)1},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef members[] = {
    {"_i", T_OBJECT_EX, offsetof(Handle, i), 0, "the node's index: set, the handle owns it"},
    {"_a", T_OBJECT, offsetof(Handle, a), 0, "an operand, or what engine.py keeps there"},
    {"_b", T_OBJECT, offsetof(Handle, b), 0, "the other operand, or None"},
    {NULL, 0, 0, 0, NULL},
};

static PyMethodDef methods[] = {
    {"relu", relu, METH_NOARGS, "max(0, self), as micrograd's ReLU."},
    {"tanh", tanh_, METH_NOARGS, "The hyperbolic tangent."},
    {"exp", exp_, METH_NOARGS, "e ** self; OverflowError where math.exp raises it."},
    {"log", log_, METH_NOARGS, "The natural logarithm; ValueError for self <= 0."},
    {"sigmoid", sigmoid, METH_NOARGS, "1 / (1 + e ** -self), without overflow."},
    {"softplus", softplus, METH_NOARGS, "log(1 + e ** self), without overflow."},
    {"logaddexp", logaddexp, METH_O,
     "log(e ** self + e ** other), without overflow: logsumexp and softmax build on it."},
    {"_install", install, METH_O | METH_CLASS, "Set the class the fast paths make."},
    {"_flush", flush, METH_NOARGS | METH_CLASS, "Give every filed index back to C."},
    {"_pending", pending, METH_NOARGS | METH_CLASS, "The filed indices not given back yet."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot slots[] = {
    {Py_tp_doc, "A handle on one C node: its index, its operands, its operators."},
    {Py_tp_dealloc, dealloc},
    {Py_tp_init, init},
    {Py_tp_traverse, traverse},
    {Py_tp_clear, clear},
    {Py_tp_members, members},
    {Py_tp_getset, getset},
    {Py_tp_methods, methods},
    {Py_nb_add, nb_add},
    {Py_nb_subtract, nb_sub},
    {Py_nb_multiply, nb_mul},
    {Py_nb_true_divide, nb_div},
    {Py_nb_power, nb_pow},
    {Py_nb_negative, nb_neg},
    {0, NULL},
};

static PyType_Spec spec = {"micrograd_c._cmg.Handle", sizeof(Handle), 0,
                           Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC, slots};

/* The type, made on the first call (once per process), as a PyObject *; NULL
 * if memory ran out. It is also set as micrograd_c._cmg.Handle in the main
 * interpreter, once that has imported the module. (PyGILState_Ensure takes
 * the main interpreter's thread state, whichever interpreter calls: a legacy
 * subinterpreter, which shares the GIL, finds the type at the address
 * returned, as does Python wherever the attribute is missing.) */
void *mg_py_handle_type(void)
{
    PyGILState_STATE gil = PyGILState_Ensure(); /* (cffi let it go for this call) */
    if (handle_type == NULL && (handle_type = PyType_FromSpec(&spec)) != NULL) {
        /* (where the module is not the main interpreter's, Python takes the address) */
        PyObject *name = PyUnicode_FromString("micrograd_c._cmg");
        PyObject *module = name != NULL ? PyImport_GetModule(name) : NULL;
        if (module != NULL && PyObject_SetAttrString(module, "Handle", handle_type) < 0)
            Py_CLEAR(handle_type);
        Py_XDECREF(module);
        Py_XDECREF(name);
    }
    PyErr_Clear(); /* (a failure: Python sees NULL and raises) */
    PyGILState_Release(gil);
    return handle_type;
}
