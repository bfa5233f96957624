const ms = [
  "0.3",
  "0.4",
  "0.5",
  "0.6",
  "1",
  "2"
], gs = ["0.2", "0.3", "1", "2"], _e = "2", we = "2", Xr = "metaframe.json", Yr = "metapage/definition", qr = "metapage/state", ks = gs[gs.length - 1], On = ms[ms.length - 1], Rn = /^[v^~<>=]*?(\d+)(?:\.([x*]|\d+)(?:\.([x*]|\d+)(?:\.([x*]|\d+))?(?:-([\da-z\-]+(?:\.[\da-z\-]+)*))?(?:\+[\da-z\-]+(?:\.[\da-z\-]+)*)?)?)?$/i, bs = (t) => {
  if (typeof t != "string")
    throw new TypeError("Invalid argument expected string");
  const e = t.match(Rn);
  if (!e)
    throw new Error(`Invalid argument not valid semver ('${t}' received)`);
  return e.shift(), e;
}, _s = (t) => t === "*" || t === "x" || t === "X", ws = (t) => {
  const e = parseInt(t, 10);
  return isNaN(e) ? t : e;
}, En = (t, e) => typeof t != typeof e ? [String(t), String(e)] : [t, e], Mn = (t, e) => {
  if (_s(t) || _s(e))
    return 0;
  const [s, n] = En(ws(t), ws(e));
  return s > n ? 1 : s < n ? -1 : 0;
}, vs = (t, e) => {
  for (let s = 0; s < Math.max(t.length, e.length); s++) {
    const n = Mn(t[s] || "0", e[s] || "0");
    if (n !== 0)
      return n;
  }
  return 0;
}, z = (t, e) => {
  const s = bs(t), n = bs(e), i = s.pop(), o = n.pop(), r = vs(s, n);
  return r !== 0 ? r : i && o ? vs(i.split("."), o.split(".")) : i || o ? i ? -1 : 1 : 0;
};
var An = typeof globalThis < "u" ? globalThis : typeof window < "u" ? window : typeof global < "u" ? global : typeof self < "u" ? self : {};
function Je(t) {
  return t && t.__esModule && Object.prototype.hasOwnProperty.call(t, "default") ? t.default : t;
}
var Us = { exports: {} };
(function(t, e) {
  (function(s, n) {
    t.exports = n();
  })(An, function() {
    var s = function(o, r) {
      if (r = r || {}, typeof o != "function")
        throw new i("fetch must be a function");
      if (typeof r != "object")
        throw new i("defaults must be an object");
      if (r.retries !== void 0 && !n(r.retries))
        throw new i("retries must be a positive integer");
      if (r.retryDelay !== void 0 && !n(r.retryDelay) && typeof r.retryDelay != "function")
        throw new i("retryDelay must be a positive integer or a function returning a positive integer");
      if (r.retryOn !== void 0 && !Array.isArray(r.retryOn) && typeof r.retryOn != "function")
        throw new i("retryOn property expects an array or function");
      var a = {
        retries: 3,
        retryDelay: 1e3,
        retryOn: []
      };
      return r = Object.assign(a, r), function(l, c) {
        var f = r.retries, h = r.retryDelay, p = r.retryOn;
        if (c && c.retries !== void 0)
          if (n(c.retries))
            f = c.retries;
          else
            throw new i("retries must be a positive integer");
        if (c && c.retryDelay !== void 0)
          if (n(c.retryDelay) || typeof c.retryDelay == "function")
            h = c.retryDelay;
          else
            throw new i("retryDelay must be a positive integer or a function returning a positive integer");
        if (c && c.retryOn)
          if (Array.isArray(c.retryOn) || typeof c.retryOn == "function")
            p = c.retryOn;
          else
            throw new i("retryOn property expects an array or function");
        return new Promise(function(d, b) {
          var w = function(S) {
            var O = typeof Request < "u" && l instanceof Request ? l.clone() : l;
            o(O, c).then(function($) {
              if (Array.isArray(p) && p.indexOf($.status) === -1)
                d($);
              else if (typeof p == "function")
                try {
                  return Promise.resolve(p(S, null, $)).then(function(E) {
                    E ? A(S, null, $) : d($);
                  }).catch(b);
                } catch (E) {
                  b(E);
                }
              else
                S < f ? A(S, null, $) : d($);
            }).catch(function($) {
              if (typeof p == "function")
                try {
                  Promise.resolve(p(S, $, null)).then(function(E) {
                    E ? A(S, $, null) : b($);
                  }).catch(function(E) {
                    b(E);
                  });
                } catch (E) {
                  b(E);
                }
              else
                S < f ? A(S, $, null) : b($);
            });
          };
          function A(S, O, $) {
            var E = typeof h == "function" ? h(S, O, $) : h;
            setTimeout(function() {
              w(++S);
            }, E);
          }
          w(0);
        });
      };
    };
    function n(o) {
      return Number.isInteger(o) && o >= 0;
    }
    function i(o) {
      this.name = "ArgumentError", this.message = o;
    }
    return s;
  });
})(Us);
var In = Us.exports;
const Ge = /* @__PURE__ */ Je(In), J = {
  Remove: "remove",
  Replace: "replace",
  Add: "add"
}, Hs = Symbol.for("__MUTATIVE_PROXY_DRAFT__"), Cn = Symbol("__MUTATIVE_RAW_RETURN_SYMBOL__"), ie = Symbol.iterator, nt = {
  mutable: "mutable",
  immutable: "immutable"
}, Qe = {};
function Bt(t, e) {
  return t instanceof Map ? t.has(e) : Object.prototype.hasOwnProperty.call(t, e);
}
function Ss(t, e) {
  if (e in t) {
    let s = Reflect.getPrototypeOf(t);
    for (; s; ) {
      const n = Reflect.getOwnPropertyDescriptor(s, e);
      if (n)
        return n;
      s = Reflect.getPrototypeOf(s);
    }
  }
}
function Ke(t) {
  return Object.getPrototypeOf(t) === Set.prototype;
}
function Xe(t) {
  return Object.getPrototypeOf(t) === Map.prototype;
}
function et(t) {
  var e;
  return (e = t.copy) !== null && e !== void 0 ? e : t.original;
}
function Rt(t) {
  return !!D(t);
}
function D(t) {
  return typeof t != "object" ? null : t == null ? void 0 : t[Hs];
}
function Ye(t) {
  var e;
  const s = D(t);
  return s ? (e = s.copy) !== null && e !== void 0 ? e : s.original : t;
}
function ut(t, e) {
  if (!t || typeof t != "object")
    return !1;
  let s;
  return Object.getPrototypeOf(t) === Object.prototype || Array.isArray(t) || t instanceof Map || t instanceof Set || !!(e != null && e.mark) && ((s = e.mark(t, nt)) === nt.immutable || typeof s == "function");
}
function Ns(t, e = []) {
  if (Object.hasOwnProperty.call(t, "key")) {
    const s = t.parent.copy, n = D(bt(s, t.key));
    if (n !== null && (n == null ? void 0 : n.original) !== t.original)
      return null;
    const i = t.parent.type === 3, o = i ? Array.from(t.parent.setMap.keys()).indexOf(t.key) : t.key;
    if (!(i && s.size > o || Bt(s, o)))
      return null;
    e.push(o);
  }
  if (t.parent)
    return Ns(t.parent, e);
  e.reverse();
  try {
    $n(t.copy, e);
  } catch {
    return null;
  }
  return e;
}
function xt(t) {
  return Array.isArray(t) ? 1 : t instanceof Map ? 2 : t instanceof Set ? 3 : 0;
}
function bt(t, e) {
  return xt(t) === 2 ? t.get(e) : t[e];
}
function Qt(t, e, s) {
  xt(t) === 2 ? t.set(e, s) : t[e] = s;
}
function Me(t, e) {
  const s = D(t);
  return (s ? et(s) : t)[e];
}
function gt(t, e) {
  return t === e ? t !== 0 || 1 / t === 1 / e : t !== t && e !== e;
}
function je(t) {
  if (t)
    for (; t.finalities.revoke.length > 0; )
      t.finalities.revoke.pop()();
}
function Ct(t, e) {
  return e ? t : [""].concat(t).map((s) => {
    const n = `${s}`;
    return n.indexOf("/") === -1 && n.indexOf("~") === -1 ? n : n.replace(/~/g, "~0").replace(/\//g, "~1");
  }).join("/");
}
function $n(t, e) {
  for (let s = 0; s < e.length - 1; s += 1) {
    const n = e[s];
    if (t = bt(xt(t) === 3 ? Array.from(t) : t, n), typeof t != "object")
      throw new Error(`Cannot resolve patch at '${e.join("/")}'.`);
  }
  return t;
}
function Pn(t) {
  const e = Object.create(Object.getPrototypeOf(t));
  return Reflect.ownKeys(t).forEach((s) => {
    let n = Reflect.getOwnPropertyDescriptor(t, s);
    if (n.enumerable && n.configurable && n.writable) {
      e[s] = t[s];
      return;
    }
    n.writable || (n.writable = !0, n.configurable = !0), (n.get || n.set) && (n = {
      configurable: !0,
      writable: !0,
      enumerable: n.enumerable,
      value: t[s]
    }), Reflect.defineProperty(e, s, n);
  }), e;
}
const xn = Object.prototype.propertyIsEnumerable;
function Fs(t, e) {
  let s;
  if (Array.isArray(t))
    return Array.prototype.concat.call(t);
  if (t instanceof Set) {
    if (!Ke(t)) {
      const n = Object.getPrototypeOf(t).constructor;
      return new n(t.values());
    }
    return Set.prototype.difference ? Set.prototype.difference.call(t, /* @__PURE__ */ new Set()) : new Set(t.values());
  } else if (t instanceof Map) {
    if (!Xe(t)) {
      const n = Object.getPrototypeOf(t).constructor;
      return new n(t);
    }
    return new Map(t);
  } else if (e != null && e.mark && (s = e.mark(t, nt), s !== void 0) && s !== nt.mutable) {
    if (s === nt.immutable)
      return Pn(t);
    if (typeof s == "function") {
      if (e.enablePatches || e.enableAutoFreeze)
        throw new Error("You can't use mark and patches or auto freeze together.");
      return s();
    }
    throw new Error(`Unsupported mark result: ${s}`);
  } else if (typeof t == "object" && Object.getPrototypeOf(t) === Object.prototype) {
    const n = {};
    return Object.keys(t).forEach((i) => {
      n[i] = t[i];
    }), Object.getOwnPropertySymbols(t).forEach((i) => {
      xn.call(t, i) && (n[i] = t[i]);
    }), n;
  } else
    throw new Error("Please check mark() to ensure that it is a stable marker draftable function.");
}
function q(t) {
  t.copy || (t.copy = Fs(t.original, t.options));
}
function Ut(t) {
  if (!ut(t))
    return Ye(t);
  if (Array.isArray(t))
    return t.map(Ut);
  if (t instanceof Map) {
    const s = Array.from(t.entries()).map(([n, i]) => [
      n,
      Ut(i)
    ]);
    if (!Xe(t)) {
      const n = Object.getPrototypeOf(t).constructor;
      return new n(s);
    }
    return new Map(s);
  }
  if (t instanceof Set) {
    const s = Array.from(t).map(Ut);
    if (!Ke(t)) {
      const n = Object.getPrototypeOf(t).constructor;
      return new n(s);
    }
    return new Set(s);
  }
  const e = Object.create(Object.getPrototypeOf(t));
  for (const s in t)
    e[s] = Ut(t[s]);
  return e;
}
function re(t) {
  return Rt(t) ? Ut(t) : t;
}
function ht(t) {
  var e;
  t.assignedMap = (e = t.assignedMap) !== null && e !== void 0 ? e : /* @__PURE__ */ new Map(), t.operated || (t.operated = !0, t.parent && ht(t.parent));
}
function Os() {
  throw new Error("Cannot modify frozen object");
}
function Tt(t, e, s, n, i) {
  {
    s = s ?? /* @__PURE__ */ new WeakMap(), n = n ?? [], i = i ?? [];
    const r = s.has(t) ? s.get(t) : t;
    if (n.length > 0) {
      const a = n.indexOf(r);
      if (r && typeof r == "object" && a !== -1)
        throw n[0] === r ? new Error("Forbids circular reference") : new Error(`Forbids circular reference: ~/${i.slice(0, a).map((u, l) => {
          if (typeof u == "symbol")
            return `[${u.toString()}]`;
          const c = n[l];
          return typeof u == "object" && (c instanceof Map || c instanceof Set) ? Array.from(c.keys()).indexOf(u) : u;
        }).join("/")}`);
      n.push(r), i.push(e);
    } else
      n.push(r);
  }
  if (Object.isFrozen(t) || Rt(t)) {
    n.pop(), i.pop();
    return;
  }
  switch (xt(t)) {
    case 2:
      for (const [a, u] of t)
        Tt(a, a, s, n, i), Tt(u, a, s, n, i);
      t.set = t.clear = t.delete = Os;
      break;
    case 3:
      for (const a of t)
        Tt(a, a, s, n, i);
      t.add = t.clear = t.delete = Os;
      break;
    case 1:
      Object.freeze(t);
      let r = 0;
      for (const a of t)
        Tt(a, r, s, n, i), r += 1;
      break;
    default:
      Object.freeze(t), Object.keys(t).forEach((a) => {
        const u = t[a];
        Tt(u, a, s, n, i);
      });
  }
  n.pop(), i.pop();
}
function qe(t, e) {
  const s = xt(t);
  if (s === 0)
    Reflect.ownKeys(t).forEach((n) => {
      e(n, t[n], t);
    });
  else if (s === 1) {
    let n = 0;
    for (const i of t)
      e(n, i, t), n += 1;
  } else
    t.forEach((n, i) => e(i, n, t));
}
function Bs(t, e, s) {
  if (Rt(t) || !ut(t, s) || e.has(t) || Object.isFrozen(t))
    return;
  const n = t instanceof Set, i = n ? /* @__PURE__ */ new Map() : void 0;
  if (e.add(t), qe(t, (o, r) => {
    var a;
    if (Rt(r)) {
      const u = D(r);
      q(u);
      const l = !((a = u.assignedMap) === null || a === void 0) && a.size || u.operated ? u.copy : u.original;
      Qt(n ? i : t, o, l);
    } else
      Bs(r, e, s);
  }), i) {
    const o = t, r = Array.from(o);
    o.clear(), r.forEach((a) => {
      o.add(i.has(a) ? i.get(a) : a);
    });
  }
}
function Dn(t, e) {
  const s = t.type === 3 ? t.setMap : t.copy;
  t.finalities.revoke.length > 1 && t.assignedMap.get(e) && s && Bs(bt(s, e), t.finalities.handledSet, t.options);
}
function Te(t) {
  t.type === 3 && t.copy && (t.copy.clear(), t.setMap.forEach((e) => {
    t.copy.add(Ye(e));
  }));
}
function Le(t, e, s, n) {
  if (t.operated && t.assignedMap && t.assignedMap.size > 0 && !t.finalized) {
    if (s && n) {
      const o = Ns(t);
      o && e(t, o, s, n);
    }
    t.finalized = !0;
  }
}
function Ze(t, e, s, n) {
  const i = D(s);
  i && (i.callbacks || (i.callbacks = []), i.callbacks.push((o, r) => {
    var a;
    const u = t.type === 3 ? t.setMap : t.copy;
    if (gt(bt(u, e), s)) {
      let l = i.original;
      i.copy && (l = i.copy), Te(t), Le(t, n, o, r), t.options.enableAutoFreeze && (t.options.updatedValues = (a = t.options.updatedValues) !== null && a !== void 0 ? a : /* @__PURE__ */ new WeakMap(), t.options.updatedValues.set(l, i.original)), Qt(u, e, l);
    }
  }), t.options.enableAutoFreeze && i.finalities !== t.finalities && (t.options.enableAutoFreeze = !1)), ut(s, t.options) && t.finalities.draft.push(() => {
    const o = t.type === 3 ? t.setMap : t.copy;
    gt(bt(o, e), s) && Dn(t, e);
  });
}
function jn(t, e, s, n, i) {
  let { original: o, assignedMap: r, options: a } = t, u = t.copy;
  u.length < o.length && ([o, u] = [u, o], [s, n] = [n, s]);
  for (let l = 0; l < o.length; l += 1)
    if (r.get(l.toString()) && u[l] !== o[l]) {
      const c = e.concat([l]), f = Ct(c, i);
      s.push({
        op: J.Replace,
        path: f,
        // If it is a draft, it needs to be deep cloned, and it may also be non-draft.
        value: re(u[l])
      }), n.push({
        op: J.Replace,
        path: f,
        // If it is a draft, it needs to be deep cloned, and it may also be non-draft.
        value: re(o[l])
      });
    }
  for (let l = o.length; l < u.length; l += 1) {
    const c = e.concat([l]), f = Ct(c, i);
    s.push({
      op: J.Add,
      path: f,
      // If it is a draft, it needs to be deep cloned, and it may also be non-draft.
      value: re(u[l])
    });
  }
  if (o.length < u.length) {
    const { arrayLengthAssignment: l = !0 } = a.enablePatches;
    if (l) {
      const c = e.concat(["length"]), f = Ct(c, i);
      n.push({
        op: J.Replace,
        path: f,
        value: o.length
      });
    } else
      for (let c = u.length; o.length < c; c -= 1) {
        const f = e.concat([c - 1]), h = Ct(f, i);
        n.push({
          op: J.Remove,
          path: h
        });
      }
  }
}
function Tn({ original: t, copy: e, assignedMap: s }, n, i, o, r) {
  s.forEach((a, u) => {
    const l = bt(t, u), c = re(bt(e, u)), f = a ? Bt(t, u) ? J.Replace : J.Add : J.Remove;
    if (gt(l, c) && f === J.Replace)
      return;
    const h = n.concat(u), p = Ct(h, r);
    i.push(f === J.Remove ? { op: f, path: p } : { op: f, path: p, value: c }), o.push(f === J.Add ? { op: J.Remove, path: p } : f === J.Remove ? { op: J.Add, path: p, value: l } : { op: J.Replace, path: p, value: l });
  });
}
function Ln({ original: t, copy: e }, s, n, i, o) {
  let r = 0;
  t.forEach((a) => {
    if (!e.has(a)) {
      const u = s.concat([r]), l = Ct(u, o);
      n.push({
        op: J.Remove,
        path: l,
        value: a
      }), i.unshift({
        op: J.Add,
        path: l,
        value: a
      });
    }
    r += 1;
  }), r = 0, e.forEach((a) => {
    if (!t.has(a)) {
      const u = s.concat([r]), l = Ct(u, o);
      n.push({
        op: J.Add,
        path: l,
        value: a
      }), i.unshift({
        op: J.Remove,
        path: l,
        value: a
      });
    }
    r += 1;
  });
}
function Wt(t, e, s, n) {
  const { pathAsArray: i = !0 } = t.options.enablePatches;
  switch (t.type) {
    case 0:
    case 2:
      return Tn(t, e, s, n, i);
    case 1:
      return jn(t, e, s, n, i);
    case 3:
      return Ln(t, e, s, n, i);
  }
}
let kn = !1;
const ce = (t, e, s = !1) => {
  if (typeof t == "object" && t !== null && (!ut(t, e) || s) && !kn)
    throw new Error("Strict mode: Mutable data cannot be accessed directly, please use 'unsafe(callback)' wrap.");
}, ke = {
  get size() {
    return et(D(this)).size;
  },
  has(t) {
    return et(D(this)).has(t);
  },
  set(t, e) {
    const s = D(this), n = et(s);
    return (!n.has(t) || !gt(n.get(t), e)) && (q(s), ht(s), s.assignedMap.set(t, !0), s.copy.set(t, e), Ze(s, t, e, Wt)), this;
  },
  delete(t) {
    if (!this.has(t))
      return !1;
    const e = D(this);
    return q(e), ht(e), e.original.has(t) ? e.assignedMap.set(t, !1) : e.assignedMap.delete(t), e.copy.delete(t), !0;
  },
  clear() {
    const t = D(this);
    if (this.size) {
      q(t), ht(t), t.assignedMap = /* @__PURE__ */ new Map();
      for (const [e] of t.original)
        t.assignedMap.set(e, !1);
      t.copy.clear();
    }
  },
  forEach(t, e) {
    const s = D(this);
    et(s).forEach((n, i) => {
      t.call(e, this.get(i), i, this);
    });
  },
  get(t) {
    var e, s;
    const n = D(this), i = et(n).get(t), o = ((s = (e = n.options).mark) === null || s === void 0 ? void 0 : s.call(e, i, nt)) === nt.mutable;
    if (n.options.strict && ce(i, n.options, o), o || n.finalized || !ut(i, n.options) || i !== n.original.get(t))
      return i;
    const r = Qe.createDraft({
      original: i,
      parentDraft: n,
      key: t,
      finalities: n.finalities,
      options: n.options
    });
    return q(n), n.copy.set(t, r), r;
  },
  keys() {
    return et(D(this)).keys();
  },
  values() {
    const t = this.keys();
    return {
      [ie]: () => this.values(),
      next: () => {
        const e = t.next();
        return e.done ? e : {
          done: !1,
          value: this.get(e.value)
        };
      }
    };
  },
  entries() {
    const t = this.keys();
    return {
      [ie]: () => this.entries(),
      next: () => {
        const e = t.next();
        if (e.done)
          return e;
        const s = this.get(e.value);
        return {
          done: !1,
          value: [e.value, s]
        };
      }
    };
  },
  [ie]() {
    return this.entries();
  }
}, Un = Reflect.ownKeys(ke), Rs = (t, e, { isValuesIterator: s }) => () => {
  var n, i;
  const o = e.next();
  if (o.done)
    return o;
  const r = o.value;
  let a = t.setMap.get(r);
  const u = D(a), l = ((i = (n = t.options).mark) === null || i === void 0 ? void 0 : i.call(n, a, nt)) === nt.mutable;
  if (t.options.strict && ce(r, t.options, l), !l && !u && ut(r, t.options) && !t.finalized && t.original.has(r)) {
    const c = Qe.createDraft({
      original: r,
      parentDraft: t,
      key: r,
      finalities: t.finalities,
      options: t.options
    });
    t.setMap.set(r, c), a = c;
  } else
    u && (a = u.proxy);
  return {
    done: !1,
    value: s ? a : [a, a]
  };
}, le = {
  get size() {
    return D(this).setMap.size;
  },
  has(t) {
    const e = D(this);
    if (e.setMap.has(t))
      return !0;
    q(e);
    const s = D(t);
    return !!(s && e.setMap.has(s.original));
  },
  add(t) {
    const e = D(this);
    return this.has(t) || (q(e), ht(e), e.assignedMap.set(t, !0), e.setMap.set(t, t), Ze(e, t, t, Wt)), this;
  },
  delete(t) {
    if (!this.has(t))
      return !1;
    const e = D(this);
    q(e), ht(e);
    const s = D(t);
    return s && e.setMap.has(s.original) ? (e.assignedMap.set(s.original, !1), e.setMap.delete(s.original)) : (!s && e.setMap.has(t) ? e.assignedMap.set(t, !1) : e.assignedMap.delete(t), e.setMap.delete(t));
  },
  clear() {
    if (!this.size)
      return;
    const t = D(this);
    q(t), ht(t);
    for (const e of t.original)
      t.assignedMap.set(e, !1);
    t.setMap.clear();
  },
  values() {
    const t = D(this);
    q(t);
    const e = t.setMap.keys();
    return {
      [Symbol.iterator]: () => this.values(),
      next: Rs(t, e, { isValuesIterator: !0 })
    };
  },
  entries() {
    const t = D(this);
    q(t);
    const e = t.setMap.keys();
    return {
      [Symbol.iterator]: () => this.entries(),
      next: Rs(t, e, {
        isValuesIterator: !1
      })
    };
  },
  keys() {
    return this.values();
  },
  [ie]() {
    return this.values();
  },
  forEach(t, e) {
    const s = this.values();
    let n = s.next();
    for (; !n.done; )
      t.call(e, n.value, n.value, this), n = s.next();
  }
};
Set.prototype.difference && Object.assign(le, {
  intersection(t) {
    return Set.prototype.intersection.call(new Set(this.values()), t);
  },
  union(t) {
    return Set.prototype.union.call(new Set(this.values()), t);
  },
  difference(t) {
    return Set.prototype.difference.call(new Set(this.values()), t);
  },
  symmetricDifference(t) {
    return Set.prototype.symmetricDifference.call(new Set(this.values()), t);
  },
  isSubsetOf(t) {
    return Set.prototype.isSubsetOf.call(new Set(this.values()), t);
  },
  isSupersetOf(t) {
    return Set.prototype.isSupersetOf.call(new Set(this.values()), t);
  },
  isDisjointFrom(t) {
    return Set.prototype.isDisjointFrom.call(new Set(this.values()), t);
  }
});
const Hn = Reflect.ownKeys(le), zs = {
  get(t, e, s) {
    var n, i;
    const o = (n = t.copy) === null || n === void 0 ? void 0 : n[e];
    if (o && t.finalities.draftsCache.has(o))
      return o;
    if (e === Hs)
      return t;
    let r;
    if (t.options.mark) {
      const l = e === "size" && (t.original instanceof Map || t.original instanceof Set) ? Reflect.get(t.original, e) : Reflect.get(t.original, e, s);
      if (r = t.options.mark(l, nt), r === nt.mutable)
        return t.options.strict && ce(l, t.options, !0), l;
    }
    const a = et(t);
    if (a instanceof Map && Un.includes(e))
      return e === "size" ? Object.getOwnPropertyDescriptor(ke, "size").get.call(t.proxy) : ke[e].bind(t.proxy);
    if (a instanceof Set && Hn.includes(e))
      return e === "size" ? Object.getOwnPropertyDescriptor(le, "size").get.call(t.proxy) : le[e].bind(t.proxy);
    if (!Bt(a, e)) {
      const l = Ss(a, e);
      return l ? "value" in l ? l.value : (
        // !case: support for getter
        (i = l.get) === null || i === void 0 ? void 0 : i.call(t.proxy)
      ) : void 0;
    }
    const u = a[e];
    if (t.options.strict && ce(u, t.options), t.finalized || !ut(u, t.options))
      return u;
    if (u === Me(t.original, e)) {
      if (q(t), t.copy[e] = ts({
        original: t.original[e],
        parentDraft: t,
        key: t.type === 1 ? Number(e) : e,
        finalities: t.finalities,
        options: t.options
      }), typeof r == "function") {
        const l = D(t.copy[e]);
        return q(l), ht(l), l.copy;
      }
      return t.copy[e];
    }
    return Rt(u) && t.finalities.draftsCache.add(u), u;
  },
  set(t, e, s) {
    var n;
    if (t.type === 3 || t.type === 2)
      throw new Error("Map/Set draft does not support any property assignment.");
    let i;
    if (t.type === 1 && e !== "length" && !(Number.isInteger(i = Number(e)) && i >= 0 && (e === 0 || i === 0 || String(i) === String(e))))
      throw new Error("Only supports setting array indices and the 'length' property.");
    const o = Ss(et(t), e);
    if (o != null && o.set)
      return o.set.call(t.proxy, s), !0;
    const r = Me(et(t), e), a = D(r);
    return a && gt(a.original, s) ? (t.copy[e] = s, t.assignedMap = (n = t.assignedMap) !== null && n !== void 0 ? n : /* @__PURE__ */ new Map(), t.assignedMap.set(e, !1), !0) : (gt(s, r) && (s !== void 0 || Bt(t.original, e)) || (q(t), ht(t), Bt(t.original, e) && gt(s, t.original[e]) ? t.assignedMap.delete(e) : t.assignedMap.set(e, !0), t.copy[e] = s, Ze(t, e, s, Wt)), !0);
  },
  has(t, e) {
    return e in et(t);
  },
  ownKeys(t) {
    return Reflect.ownKeys(et(t));
  },
  getOwnPropertyDescriptor(t, e) {
    const s = et(t), n = Reflect.getOwnPropertyDescriptor(s, e);
    return n && {
      writable: !0,
      configurable: t.type !== 1 || e !== "length",
      enumerable: n.enumerable,
      value: s[e]
    };
  },
  getPrototypeOf(t) {
    return Reflect.getPrototypeOf(t.original);
  },
  setPrototypeOf() {
    throw new Error("Cannot call 'setPrototypeOf()' on drafts");
  },
  defineProperty() {
    throw new Error("Cannot call 'defineProperty()' on drafts");
  },
  deleteProperty(t, e) {
    var s;
    return t.type === 1 ? zs.set.call(this, t, e, void 0, t.proxy) : (Me(t.original, e) !== void 0 || e in t.original ? (q(t), ht(t), t.assignedMap.set(e, !1)) : (t.assignedMap = (s = t.assignedMap) !== null && s !== void 0 ? s : /* @__PURE__ */ new Map(), t.assignedMap.delete(e)), t.copy && delete t.copy[e], !0);
  }
};
function ts(t) {
  const { original: e, parentDraft: s, key: n, finalities: i, options: o } = t, r = xt(e), a = {
    type: r,
    finalized: !1,
    parent: s,
    original: e,
    copy: null,
    proxy: null,
    finalities: i,
    options: o,
    // Mapping of draft Set items to their corresponding draft values.
    setMap: r === 3 ? new Map(e.entries()) : void 0
  };
  (n || "key" in t) && (a.key = n);
  const { proxy: u, revoke: l } = Proxy.revocable(r === 1 ? Object.assign([], a) : a, zs);
  if (i.revoke.push(l), a.proxy = u, s) {
    const c = s;
    c.finalities.draft.push((f, h) => {
      var p, d;
      const b = D(u);
      let w = c.type === 3 ? c.setMap : c.copy;
      const A = bt(w, n), S = D(A);
      if (S) {
        let O = S.original;
        S.operated && (O = Ye(A)), Te(S), Le(S, Wt, f, h), c.options.enableAutoFreeze && (c.options.updatedValues = (p = c.options.updatedValues) !== null && p !== void 0 ? p : /* @__PURE__ */ new WeakMap(), c.options.updatedValues.set(O, S.original)), Qt(w, n, O);
      }
      (d = b.callbacks) === null || d === void 0 || d.forEach((O) => {
        O(f, h);
      });
    });
  } else {
    const c = D(u);
    c.finalities.draft.push((f, h) => {
      Te(c), Le(c, Wt, f, h);
    });
  }
  return u;
}
Qe.createDraft = ts;
function Nn(t, e, s, n, i) {
  var o;
  const r = D(t), a = (o = r == null ? void 0 : r.original) !== null && o !== void 0 ? o : t, u = !!e.length;
  if (r != null && r.operated)
    for (; r.finalities.draft.length > 0; )
      r.finalities.draft.pop()(s, n);
  const l = u ? e[0] : r ? r.operated ? r.copy : r.original : t;
  return r && je(r), i && Tt(l, l, r == null ? void 0 : r.options.updatedValues), [
    l,
    s && u ? [{ op: J.Replace, path: [], value: e[0] }] : s,
    n && u ? [{ op: J.Replace, path: [], value: a }] : n
  ];
}
function Fn(t, e) {
  var s;
  const n = {
    draft: [],
    revoke: [],
    handledSet: /* @__PURE__ */ new WeakSet(),
    draftsCache: /* @__PURE__ */ new WeakSet()
  };
  let i, o;
  e.enablePatches && (i = [], o = []);
  const a = ((s = e.mark) === null || s === void 0 ? void 0 : s.call(e, t, nt)) === nt.mutable || !ut(t, e) ? t : ts({
    original: t,
    parentDraft: null,
    finalities: n,
    options: e
  });
  return [
    a,
    (u = []) => {
      const [l, c, f] = Nn(a, u, i, o, e.enableAutoFreeze);
      return e.enablePatches ? [l, c, f] : l;
    }
  ];
}
function Ue(t) {
  const { rootDraft: e, value: s, useRawReturn: n = !1, isRoot: i = !0 } = t;
  qe(s, (o, r, a) => {
    const u = D(r);
    if (u && e && u.finalities === e.finalities) {
      t.isContainDraft = !0;
      const l = u.original;
      if (a instanceof Set) {
        const c = Array.from(a);
        a.clear(), c.forEach((f) => a.add(o === f ? l : f));
      } else
        Qt(a, o, l);
    } else
      typeof r == "object" && r !== null && (t.value = r, t.isRoot = !1, Ue(t));
  }), i && (t.isContainDraft || console.warn("The return value does not contain any draft, please use 'rawReturn()' to wrap the return value to improve performance."), n && console.warn("The return value contains drafts, please don't use 'rawReturn()' to wrap the return value."));
}
function Vs(t) {
  var e;
  const s = D(t);
  if (!ut(t, s == null ? void 0 : s.options))
    return t;
  const n = xt(t);
  if (s && !s.operated)
    return s.original;
  let i;
  function o() {
    i = n === 2 ? Xe(t) ? new Map(t) : new (Object.getPrototypeOf(t)).constructor(t) : n === 3 ? Array.from(s.setMap.values()) : Fs(t, s == null ? void 0 : s.options);
  }
  if (s) {
    s.finalized = !0;
    try {
      o();
    } finally {
      s.finalized = !1;
    }
  } else
    i = t;
  if (qe(i, (r, a) => {
    if (s && gt(bt(s.original, r), a))
      return;
    const u = Vs(a);
    u !== a && (i === t && o(), Qt(i, r, u));
  }), n === 3) {
    const r = (e = s == null ? void 0 : s.original) !== null && e !== void 0 ? e : i;
    return Ke(r) ? new Set(i) : new (Object.getPrototypeOf(r)).constructor(i);
  }
  return i;
}
function Es(t) {
  if (!Rt(t))
    throw new Error(`current() is only used for Draft, parameter: ${t}`);
  return Vs(t);
}
const Bn = (t) => {
  if (t !== void 0 && Object.prototype.toString.call(t) !== "[object Object]")
    throw new Error(`Invalid options: ${String(t)}, 'options' should be an object.`);
  return function e(s, n, i) {
    var o, r, a;
    if (typeof s == "function" && typeof n != "function")
      return function(E, ...j) {
        return e(E, (T) => s.call(this, T, ...j), n);
      };
    const u = s, l = n;
    let c = i;
    if (typeof n != "function" && (c = n), c !== void 0 && Object.prototype.toString.call(c) !== "[object Object]")
      throw new Error(`Invalid options: ${c}, 'options' should be an object.`);
    c = Object.assign(Object.assign({}, t), c);
    const f = Rt(u) ? Es(u) : u, h = Array.isArray(c.mark) ? (E, j) => {
      for (const T of c.mark) {
        if (typeof T != "function")
          throw new Error(`Invalid mark: ${T}, 'mark' should be a function.`);
        const _ = T(E, j);
        if (_)
          return _;
      }
    } : c.mark, p = (o = c.enablePatches) !== null && o !== void 0 ? o : !1, d = (r = c.strict) !== null && r !== void 0 ? r : !1, w = {
      enableAutoFreeze: (a = c.enableAutoFreeze) !== null && a !== void 0 ? a : !1,
      mark: h,
      strict: d,
      enablePatches: p
    };
    if (!ut(f, w) && typeof f == "object" && f !== null)
      throw new Error("Invalid base state: create() only supports plain objects, arrays, Set, Map or using mark() to mark the state as immutable.");
    const [A, S] = Fn(f, w);
    if (typeof n != "function") {
      if (!ut(f, w))
        throw new Error("Invalid base state: create() only supports plain objects, arrays, Set, Map or using mark() to mark the state as immutable.");
      return [A, S];
    }
    let O;
    try {
      O = l(A);
    } catch (E) {
      throw je(D(A)), E;
    }
    const $ = (E) => {
      const j = D(A);
      if (!Rt(E)) {
        if (E !== void 0 && !gt(E, A) && (j != null && j.operated))
          throw new Error("Either the value is returned as a new non-draft value, or only the draft is modified without returning any value.");
        const _ = E == null ? void 0 : E[Cn];
        if (_) {
          const M = _[0];
          return w.strict && typeof E == "object" && E !== null && Ue({
            rootDraft: j,
            value: E,
            useRawReturn: !0
          }), S([M]);
        }
        if (E !== void 0)
          return typeof E == "object" && E !== null && Ue({ rootDraft: j, value: E }), S([E]);
      }
      if (E === A || E === void 0)
        return S([]);
      const T = D(E);
      if (w === T.options) {
        if (T.operated)
          throw new Error("Cannot return a modified child draft.");
        return S([Es(E)]);
      }
      return S([E]);
    };
    return O instanceof Promise ? O.then($, (E) => {
      throw je(D(A)), E;
    }) : $(O);
  };
}, C = Bn();
Object.prototype.constructor.toString();
const Ws = (t) => {
  var s, n, i;
  if (t != null && t.version)
    return t.version;
  const e = t == null ? void 0 : t.metaframes;
  if (e) {
    const o = Object.keys(e)[0];
    if (o && ((s = e[o]) != null && s.metaframe))
      return t.plugins ? "0.3" : "0.2";
  }
  return (n = t == null ? void 0 : t.meta) != null && n.keywords || typeof ((i = t == null ? void 0 : t.meta) == null ? void 0 : i.author) == "string" ? "1" : "2";
}, Js = (t) => {
  if (t != null && t.version)
    return t.version;
  const e = t == null ? void 0 : t.metadata;
  return e != null && e.title || e != null && e.descriptionUrl || e != null && e.iconUrl ? t.allow ? "0.4" : "0.3" : Array.isArray(e == null ? void 0 : e.authors) || t != null && t.hashParams || t != null && t.sandbox ? "2" : typeof (e == null ? void 0 : e.author) == "string" ? "1" : e != null && e.operations ? "0.6" : e != null && e.edit ? "0.5" : "2";
}, zn = Ge(fetch), Gs = async (t, e) => {
  if (!t)
    throw "Metapage definition null";
  if (!t.version) {
    const n = Ws(t);
    t = C(t, (i) => {
      i.version = n;
    });
  }
  if (!e)
    throw 'Missing "version" argument';
  if (z(e, we) > 0)
    try {
      return await (await zn(`https://module.metapage.io/conversion/metapage/v${e}`, {
        redirect: "follow",
        retries: 3,
        retryDelay: 1e3,
        method: "POST",
        body: JSON.stringify(t),
        headers: {
          "Content-Type": "application/json"
        }
      })).json();
    } catch (n) {
      throw `Error converting metapage definition to version ${e}: ${n}`;
    }
  return Wn(t, e);
}, Vn = async (t) => Gs(t, we), Wn = (t, e) => {
  if (!t)
    throw "Metapage definition null";
  if (!t.version) {
    const i = Ws(t);
    t = C(t, (o) => {
      o.version = i;
    });
  }
  let s = vt(t.version);
  if (s === e)
    return t;
  let n = t;
  for (; s !== e; )
    switch (s) {
      case "0.2": {
        if (z(e, s) > 0)
          n = Jn(n), s = vt(n.version);
        else
          throw `Cannot convert from version ${s} to ${e}`;
        break;
      }
      case "0.3": {
        z(e, s) > 0 ? (n = Qn(n), s = vt(n.version)) : (n = Gn(n), s = vt(n.version));
        break;
      }
      case "1": {
        z(e, s) > 0 ? (n = Yn(n), s = vt(n.version)) : (n = Kn(n), s = vt(n.version));
        break;
      }
      case "2": {
        if (z(e, s) > 0)
          throw `Cannot convert from version ${s} to ${e}, 1 is the latest version`;
        n = Xn(n), s = vt(n.version);
        break;
      }
      default:
        throw `Unknow version ${s} to ${e}`;
    }
  return n;
}, Jn = (t) => C(t, (e) => {
  e.version = "0.3";
}), Gn = (t) => C(t, (e) => {
  e.version = "0.2";
}), Qn = (t) => C(t, (e) => {
  const s = e;
  delete s.plugins, s.version = "1";
}), Kn = (t) => C(t, (e) => (e.version = "0.3", e)), Xn = (t) => C(t, (e) => {
  var s, n;
  return e.version = "1", (s = e == null ? void 0 : e.meta) != null && s.tags && (e.meta.keywords = e.meta.tags, delete e.meta.tags), (n = e == null ? void 0 : e.meta) != null && n.authors && (e.meta.author = e.meta.authors[0], delete e.meta.authors), e;
}), Yn = (t) => C(t, (e) => {
  var s, n;
  return e.version = "2", (s = e == null ? void 0 : e.meta) != null && s.keywords && (e.meta.tags = e.meta.keywords, delete e.meta.keywords), (n = e == null ? void 0 : e.meta) != null && n.author && (e.meta.authors = [e.meta.author], delete e.meta.author), e;
}), vt = (t) => {
  if (!t)
    throw "Missing version";
  if (t === "latest")
    return we;
  if (z(t, "0.2") < 0)
    throw `Unknown version: ${t}`;
  if (z(t, "0.2") <= 0 && z(t, "0.3") < 0)
    return "0.2";
  if (z(t, "0.3") <= 0)
    return "0.3";
  if (z(t, "1") <= 0)
    return "1";
  if (t === "2")
    return "2";
  throw `Unknown version: ${t}`;
}, qn = Ge(fetch), Zn = (t) => {
  if (t) {
    if (Array.isArray(t)) {
      const e = {};
      for (const s of t)
        e[s] = {};
      return e;
    }
    return t;
  }
}, Qs = async (t, e) => {
  if (!t)
    throw "Metaframe definition null";
  if (!t.version) {
    const n = Js(t);
    t = C(t, (i) => {
      i.version = n;
    });
  }
  if (!e)
    throw 'Missing "version" argument';
  if (z(e, _e) > 0)
    try {
      return await (await qn(`https://module.metapage.io/conversion/metaframe/v${e}`, {
        redirect: "follow",
        retries: 3,
        retryDelay: 1e3,
        method: "POST",
        body: JSON.stringify(t),
        headers: {
          "Content-Type": "application/json"
        }
      })).json();
    } catch (n) {
      throw `Error converting metapage definition to version ${e}: ${n}`;
    }
  return ei(t, e);
}, ti = async (t) => Qs(t, _e), ei = (t, e) => {
  if (!t)
    throw "Metaframe definition null";
  if (!t.version) {
    const i = Js(t);
    t = C(t, (o) => {
      o.version = i;
    });
  }
  let s = ot(t.version);
  if (s === e)
    return t;
  let n = t;
  for (; s !== e; )
    switch (s) {
      case "0.3": {
        if (z(e, s) > 0)
          n = ni(n), s = ot(n.version);
        else
          throw `Cannot convert from version ${s} to ${e}`;
        break;
      }
      case "0.4": {
        z(e, s) > 0 ? (n = ii(n), s = ot(n.version)) : (n = si(n), s = ot(n.version));
        break;
      }
      case "0.5": {
        z(e, s) > 0 ? (n = li(n), s = ot(n.version)) : (n = ri(n), s = ot(n.version));
        break;
      }
      case "0.6": {
        z(e, s) > 0 ? (n = oi(n), s = ot(n.version)) : (n = fi(n), s = ot(n.version));
        break;
      }
      case "1": {
        z(e, s) > 0 ? (n = ci(n), s = ot(n.version)) : (n = ai(n), s = ot(n.version));
        break;
      }
      case "2": {
        if (z(e, s) > 0)
          throw `Cannot convert from version ${s} to ${e}`;
        n = ui(n), s = ot(n.version);
        break;
      }
      default:
        throw `Unknow version ${s} to ${e}`;
    }
  return n;
}, He = async (t, e) => {
  if (!t)
    return;
  const s = await ti(t);
  return s != null && s.hashParams && (s.hashParams = Zn(s.hashParams)), s;
}, si = (t) => C(t, (e) => {
  e.version = "0.3", delete e.allow;
}), ni = (t) => C(t, (e) => {
  e.version = "0.4";
}), ii = (t) => C(t, (e) => {
  if (e.version = "0.5", !(e != null && e.metadata))
    return;
  const s = e.metadata.title;
  delete e.metadata.title, e.metadata.name = s;
  const n = e.metadata.descriptionUrl;
  delete e.metadata.descriptionUrl, e.metadata.description = n;
  const i = e.metadata.keywords;
  delete e.metadata.keywords, e.metadata.tags = i;
}), ri = (t) => C(t, (e) => {
  if (e.version = "0.4", !(e != null && e.metadata))
    return;
  const s = e.metadata.name;
  delete e.metadata.name, e.metadata.title = s;
  const n = e.metadata.description;
  delete e.metadata.description, e.metadata.descriptionUrl = n;
  const i = e.metadata.tags;
  delete e.metadata.tags, e.metadata.keywords = i;
}), oi = (t) => C(t, (e) => {
  var s;
  e.version = "1", (s = e == null ? void 0 : e.metadata) != null && s.operations && delete e.metadata.operations;
}), ai = (t) => C(t, (e) => {
  var s;
  e.version = "0.6", (s = e == null ? void 0 : e.metadata) != null && s.operations && delete e.metadata.operations;
}), ui = (t) => C(t, (e) => {
  var s, n;
  return e.version = "1", (s = e == null ? void 0 : e.metadata) != null && s.authors && (e.metadata.author = (n = e == null ? void 0 : e.metadata) == null ? void 0 : n.authors[0], delete e.metadata.authors), e;
}), ci = (t) => C(t, (e) => {
  var s;
  return e.version = "2", (s = e == null ? void 0 : e.metadata) != null && s.author && (e.metadata.authors = [
    e.metadata.author
  ], delete e.metadata.author), e;
}), li = (t) => C(t, (e) => {
  var s;
  e.version = "0.6", (s = e == null ? void 0 : e.metadata) != null && s.operations && delete e.metadata.operations;
}), fi = (t) => C(t, (e) => {
  var s;
  e.version = "0.5", (s = e == null ? void 0 : e.metadata) != null && s.operations && delete e.metadata.operations;
}), ot = (t) => {
  if (!t)
    throw "Missing version";
  if (t === "latest")
    return _e;
  if (z(t, "0.3") < 0)
    throw `Unknown version: ${t}`;
  if (z(t, "0.3") <= 0)
    return "0.3";
  if (z(t, "0.4") <= 0)
    return "0.4";
  if (z(t, "0.5") <= 0)
    return "0.5";
  if (z(t, "0.6") <= 0)
    return "0.6";
  if (z(t, "1") <= 0)
    return "1";
  if (t === "2")
    return "2";
  throw `Unknown version: ${t}`;
};
var Ms = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", Ht = typeof Uint8Array > "u" ? [] : new Uint8Array(256);
for (var se = 0; se < Ms.length; se++)
  Ht[Ms.charCodeAt(se)] = se;
var St = function(t) {
  var e = t.length * 0.75, s = t.length, n, i = 0, o, r, a, u;
  t[t.length - 1] === "=" && (e--, t[t.length - 2] === "=" && e--);
  var l = new ArrayBuffer(e), c = new Uint8Array(l);
  for (n = 0; n < s; n += 4)
    o = Ht[t.charCodeAt(n)], r = Ht[t.charCodeAt(n + 1)], a = Ht[t.charCodeAt(n + 2)], u = Ht[t.charCodeAt(n + 3)], c[i++] = o << 2 | r >> 4, c[i++] = (r & 15) << 4 | a >> 2, c[i++] = (a & 3) << 6 | u & 63;
  return l;
};
const Kt = {
  TEXT: "text/plain",
  JSON: "application/json",
  OCTET_STREAM: "application/octet-stream",
  // For typed arrays, we'll use application/octet-stream with a type parameter
  TYPED_ARRAY: "application/octet-stream;type=",
  // Custom MIME type for URLs that should be treated as data references
  URI: "text/x-uri"
}, K = {
  Remove: "remove",
  Replace: "replace",
  Add: "add"
}, Ks = Symbol.for("__MUTATIVE_PROXY_DRAFT__"), oe = Symbol.iterator, at = {
  mutable: "mutable",
  immutable: "immutable"
}, es = {};
function zt(t, e) {
  return t instanceof Map ? t.has(e) : Object.prototype.hasOwnProperty.call(t, e);
}
function As(t, e) {
  if (e in t) {
    let s = Reflect.getPrototypeOf(t);
    for (; s; ) {
      const n = Reflect.getOwnPropertyDescriptor(s, e);
      if (n)
        return n;
      s = Reflect.getPrototypeOf(s);
    }
  }
}
function Xs(t) {
  return Object.getPrototypeOf(t) === Set.prototype;
}
function Ys(t) {
  return Object.getPrototypeOf(t) === Map.prototype;
}
function st(t) {
  var e;
  return (e = t.copy) !== null && e !== void 0 ? e : t.original;
}
function fe(t) {
  return !!k(t);
}
function k(t) {
  return typeof t != "object" ? null : t == null ? void 0 : t[Ks];
}
function ss(t) {
  var e;
  const s = k(t);
  return s ? (e = s.copy) !== null && e !== void 0 ? e : s.original : t;
}
function Dt(t, e) {
  if (!t || typeof t != "object")
    return !1;
  let s;
  return Object.getPrototypeOf(t) === Object.prototype || Array.isArray(t) || t instanceof Map || t instanceof Set || !!(e != null && e.mark) && ((s = e.mark(t, at)) === at.immutable || typeof s == "function");
}
function qs(t, e = []) {
  if (Object.hasOwnProperty.call(t, "key")) {
    const s = t.parent.copy, n = k(Et(s, t.key));
    if (n !== null && (n == null ? void 0 : n.original) !== t.original)
      return null;
    const i = t.parent.type === 3, o = i ? Array.from(t.parent.setMap.keys()).indexOf(t.key) : t.key;
    if (!(i && s.size > o || zt(s, o)))
      return null;
    e.push(o);
  }
  if (t.parent)
    return qs(t.parent, e);
  e.reverse();
  try {
    pi(t.copy, e);
  } catch {
    return null;
  }
  return e;
}
function Xt(t) {
  return Array.isArray(t) ? 1 : t instanceof Map ? 2 : t instanceof Set ? 3 : 0;
}
function Et(t, e) {
  return Xt(t) === 2 ? t.get(e) : t[e];
}
function ns(t, e, s) {
  Xt(t) === 2 ? t.set(e, s) : t[e] = s;
}
function Ae(t, e) {
  const s = k(t);
  return (s ? st(s) : t)[e];
}
function Pt(t, e) {
  return t === e ? t !== 0 || 1 / t === 1 / e : t !== t && e !== e;
}
function $t(t, e) {
  return e ? t : [""].concat(t).map((s) => {
    const n = `${s}`;
    return n.indexOf("/") === -1 && n.indexOf("~") === -1 ? n : n.replace(/~/g, "~0").replace(/\//g, "~1");
  }).join("/");
}
function pi(t, e) {
  for (let s = 0; s < e.length - 1; s += 1) {
    const n = e[s];
    if (t = Et(Xt(t) === 3 ? Array.from(t) : t, n), typeof t != "object")
      throw new Error(`Cannot resolve patch at '${e.join("/")}'.`);
  }
  return t;
}
function hi(t) {
  const e = Object.create(Object.getPrototypeOf(t));
  return Reflect.ownKeys(t).forEach((s) => {
    let n = Reflect.getOwnPropertyDescriptor(t, s);
    if (n.enumerable && n.configurable && n.writable) {
      e[s] = t[s];
      return;
    }
    n.writable || (n.writable = !0, n.configurable = !0), (n.get || n.set) && (n = {
      configurable: !0,
      writable: !0,
      enumerable: n.enumerable,
      value: t[s]
    }), Reflect.defineProperty(e, s, n);
  }), e;
}
const di = Object.prototype.propertyIsEnumerable;
function yi(t, e) {
  let s;
  if (Array.isArray(t))
    return Array.prototype.concat.call(t);
  if (t instanceof Set) {
    if (!Xs(t)) {
      const n = Object.getPrototypeOf(t).constructor;
      return new n(t.values());
    }
    return Set.prototype.difference ? Set.prototype.difference.call(t, /* @__PURE__ */ new Set()) : new Set(t.values());
  } else if (t instanceof Map) {
    if (!Ys(t)) {
      const n = Object.getPrototypeOf(t).constructor;
      return new n(t);
    }
    return new Map(t);
  } else if (e != null && e.mark && (s = e.mark(t, at), s !== void 0) && s !== at.mutable) {
    if (s === at.immutable)
      return hi(t);
    if (typeof s == "function") {
      if (e.enablePatches || e.enableAutoFreeze)
        throw new Error("You can't use mark and patches or auto freeze together.");
      return s();
    }
    throw new Error(`Unsupported mark result: ${s}`);
  } else if (typeof t == "object" && Object.getPrototypeOf(t) === Object.prototype) {
    const n = {};
    return Object.keys(t).forEach((i) => {
      n[i] = t[i];
    }), Object.getOwnPropertySymbols(t).forEach((i) => {
      di.call(t, i) && (n[i] = t[i]);
    }), n;
  } else
    throw new Error("Please check mark() to ensure that it is a stable marker draftable function.");
}
function Z(t) {
  t.copy || (t.copy = yi(t.original, t.options));
}
function Nt(t) {
  if (!Dt(t))
    return ss(t);
  if (Array.isArray(t))
    return t.map(Nt);
  if (t instanceof Map) {
    const s = Array.from(t.entries()).map(([n, i]) => [
      n,
      Nt(i)
    ]);
    if (!Ys(t)) {
      const n = Object.getPrototypeOf(t).constructor;
      return new n(s);
    }
    return new Map(s);
  }
  if (t instanceof Set) {
    const s = Array.from(t).map(Nt);
    if (!Xs(t)) {
      const n = Object.getPrototypeOf(t).constructor;
      return new n(s);
    }
    return new Set(s);
  }
  const e = Object.create(Object.getPrototypeOf(t));
  for (const s in t)
    e[s] = Nt(t[s]);
  return e;
}
function ae(t) {
  return fe(t) ? Nt(t) : t;
}
function dt(t) {
  var e;
  t.assignedMap = (e = t.assignedMap) !== null && e !== void 0 ? e : /* @__PURE__ */ new Map(), t.operated || (t.operated = !0, t.parent && dt(t.parent));
}
function mi(t, e) {
  const s = Xt(t);
  if (s === 0)
    Reflect.ownKeys(t).forEach((n) => {
      e(n, t[n], t);
    });
  else if (s === 1) {
    let n = 0;
    for (const i of t)
      e(n, i, t), n += 1;
  } else
    t.forEach((n, i) => e(i, n, t));
}
function Zs(t, e, s) {
  if (fe(t) || !Dt(t, s) || e.has(t) || Object.isFrozen(t))
    return;
  const n = t instanceof Set, i = n ? /* @__PURE__ */ new Map() : void 0;
  if (e.add(t), mi(t, (o, r) => {
    var a;
    if (fe(r)) {
      const u = k(r);
      Z(u);
      const l = !((a = u.assignedMap) === null || a === void 0) && a.size || u.operated ? u.copy : u.original;
      ns(n ? i : t, o, l);
    } else
      Zs(r, e, s);
  }), i) {
    const o = t, r = Array.from(o);
    o.clear(), r.forEach((a) => {
      o.add(i.has(a) ? i.get(a) : a);
    });
  }
}
function gi(t, e) {
  const s = t.type === 3 ? t.setMap : t.copy;
  t.finalities.revoke.length > 1 && t.assignedMap.get(e) && s && Zs(Et(s, e), t.finalities.handledSet, t.options);
}
function Ne(t) {
  t.type === 3 && t.copy && (t.copy.clear(), t.setMap.forEach((e) => {
    t.copy.add(ss(e));
  }));
}
function Fe(t, e, s, n) {
  if (t.operated && t.assignedMap && t.assignedMap.size > 0 && !t.finalized) {
    if (s && n) {
      const i = qs(t);
      i && e(t, i, s, n);
    }
    t.finalized = !0;
  }
}
function is(t, e, s, n) {
  const i = k(s);
  i && (i.callbacks || (i.callbacks = []), i.callbacks.push((o, r) => {
    var a;
    const u = t.type === 3 ? t.setMap : t.copy;
    if (Pt(Et(u, e), s)) {
      let l = i.original;
      i.copy && (l = i.copy), Ne(t), Fe(t, n, o, r), t.options.enableAutoFreeze && (t.options.updatedValues = (a = t.options.updatedValues) !== null && a !== void 0 ? a : /* @__PURE__ */ new WeakMap(), t.options.updatedValues.set(l, i.original)), ns(u, e, l);
    }
  }), t.options.enableAutoFreeze && i.finalities !== t.finalities && (t.options.enableAutoFreeze = !1)), Dt(s, t.options) && t.finalities.draft.push(() => {
    const o = t.type === 3 ? t.setMap : t.copy;
    Pt(Et(o, e), s) && gi(t, e);
  });
}
function bi(t, e, s, n, i) {
  let { original: o, assignedMap: r, options: a } = t, u = t.copy;
  u.length < o.length && ([o, u] = [u, o], [s, n] = [n, s]);
  for (let l = 0; l < o.length; l += 1)
    if (r.get(l.toString()) && u[l] !== o[l]) {
      const c = e.concat([l]), f = $t(c, i);
      s.push({
        op: K.Replace,
        path: f,
        // If it is a draft, it needs to be deep cloned, and it may also be non-draft.
        value: ae(u[l])
      }), n.push({
        op: K.Replace,
        path: f,
        // If it is a draft, it needs to be deep cloned, and it may also be non-draft.
        value: ae(o[l])
      });
    }
  for (let l = o.length; l < u.length; l += 1) {
    const c = e.concat([l]), f = $t(c, i);
    s.push({
      op: K.Add,
      path: f,
      // If it is a draft, it needs to be deep cloned, and it may also be non-draft.
      value: ae(u[l])
    });
  }
  if (o.length < u.length) {
    const { arrayLengthAssignment: l = !0 } = a.enablePatches;
    if (l) {
      const c = e.concat(["length"]), f = $t(c, i);
      n.push({
        op: K.Replace,
        path: f,
        value: o.length
      });
    } else
      for (let c = u.length; o.length < c; c -= 1) {
        const f = e.concat([c - 1]), h = $t(f, i);
        n.push({
          op: K.Remove,
          path: h
        });
      }
  }
}
function _i({ original: t, copy: e, assignedMap: s }, n, i, o, r) {
  s.forEach((a, u) => {
    const l = Et(t, u), c = ae(Et(e, u)), f = a ? zt(t, u) ? K.Replace : K.Add : K.Remove;
    if (Pt(l, c) && f === K.Replace)
      return;
    const h = n.concat(u), p = $t(h, r);
    i.push(f === K.Remove ? { op: f, path: p } : { op: f, path: p, value: c }), o.push(f === K.Add ? { op: K.Remove, path: p } : f === K.Remove ? { op: K.Add, path: p, value: l } : { op: K.Replace, path: p, value: l });
  });
}
function wi({ original: t, copy: e }, s, n, i, o) {
  let r = 0;
  t.forEach((a) => {
    if (!e.has(a)) {
      const u = s.concat([r]), l = $t(u, o);
      n.push({
        op: K.Remove,
        path: l,
        value: a
      }), i.unshift({
        op: K.Add,
        path: l,
        value: a
      });
    }
    r += 1;
  }), r = 0, e.forEach((a) => {
    if (!t.has(a)) {
      const u = s.concat([r]), l = $t(u, o);
      n.push({
        op: K.Add,
        path: l,
        value: a
      }), i.unshift({
        op: K.Remove,
        path: l,
        value: a
      });
    }
    r += 1;
  });
}
function Jt(t, e, s, n) {
  const { pathAsArray: i = !0 } = t.options.enablePatches;
  switch (t.type) {
    case 0:
    case 2:
      return _i(t, e, s, n, i);
    case 1:
      return bi(t, e, s, n, i);
    case 3:
      return wi(t, e, s, n, i);
  }
}
let vi = !1;
const pe = (t, e, s = !1) => {
  if (typeof t == "object" && t !== null && (!Dt(t, e) || s) && !vi)
    throw new Error("Strict mode: Mutable data cannot be accessed directly, please use 'unsafe(callback)' wrap.");
}, Be = {
  get size() {
    return st(k(this)).size;
  },
  has(t) {
    return st(k(this)).has(t);
  },
  set(t, e) {
    const s = k(this), n = st(s);
    return (!n.has(t) || !Pt(n.get(t), e)) && (Z(s), dt(s), s.assignedMap.set(t, !0), s.copy.set(t, e), is(s, t, e, Jt)), this;
  },
  delete(t) {
    if (!this.has(t))
      return !1;
    const e = k(this);
    return Z(e), dt(e), e.original.has(t) ? e.assignedMap.set(t, !1) : e.assignedMap.delete(t), e.copy.delete(t), !0;
  },
  clear() {
    const t = k(this);
    if (this.size) {
      Z(t), dt(t), t.assignedMap = /* @__PURE__ */ new Map();
      for (const [e] of t.original)
        t.assignedMap.set(e, !1);
      t.copy.clear();
    }
  },
  forEach(t, e) {
    const s = k(this);
    st(s).forEach((n, i) => {
      t.call(e, this.get(i), i, this);
    });
  },
  get(t) {
    var e, s;
    const n = k(this), i = st(n).get(t), o = ((s = (e = n.options).mark) === null || s === void 0 ? void 0 : s.call(e, i, at)) === at.mutable;
    if (n.options.strict && pe(i, n.options, o), o || n.finalized || !Dt(i, n.options) || i !== n.original.get(t))
      return i;
    const r = es.createDraft({
      original: i,
      parentDraft: n,
      key: t,
      finalities: n.finalities,
      options: n.options
    });
    return Z(n), n.copy.set(t, r), r;
  },
  keys() {
    return st(k(this)).keys();
  },
  values() {
    const t = this.keys();
    return {
      [oe]: () => this.values(),
      next: () => {
        const e = t.next();
        return e.done ? e : {
          done: !1,
          value: this.get(e.value)
        };
      }
    };
  },
  entries() {
    const t = this.keys();
    return {
      [oe]: () => this.entries(),
      next: () => {
        const e = t.next();
        if (e.done)
          return e;
        const s = this.get(e.value);
        return {
          done: !1,
          value: [e.value, s]
        };
      }
    };
  },
  [oe]() {
    return this.entries();
  }
}, Si = Reflect.ownKeys(Be), Is = (t, e, { isValuesIterator: s }) => () => {
  var n, i;
  const o = e.next();
  if (o.done)
    return o;
  const r = o.value;
  let a = t.setMap.get(r);
  const u = k(a), l = ((i = (n = t.options).mark) === null || i === void 0 ? void 0 : i.call(n, a, at)) === at.mutable;
  if (t.options.strict && pe(r, t.options, l), !l && !u && Dt(r, t.options) && !t.finalized && t.original.has(r)) {
    const c = es.createDraft({
      original: r,
      parentDraft: t,
      key: r,
      finalities: t.finalities,
      options: t.options
    });
    t.setMap.set(r, c), a = c;
  } else
    u && (a = u.proxy);
  return {
    done: !1,
    value: s ? a : [a, a]
  };
}, he = {
  get size() {
    return k(this).setMap.size;
  },
  has(t) {
    const e = k(this);
    if (e.setMap.has(t))
      return !0;
    Z(e);
    const s = k(t);
    return !!(s && e.setMap.has(s.original));
  },
  add(t) {
    const e = k(this);
    return this.has(t) || (Z(e), dt(e), e.assignedMap.set(t, !0), e.setMap.set(t, t), is(e, t, t, Jt)), this;
  },
  delete(t) {
    if (!this.has(t))
      return !1;
    const e = k(this);
    Z(e), dt(e);
    const s = k(t);
    return s && e.setMap.has(s.original) ? (e.assignedMap.set(s.original, !1), e.setMap.delete(s.original)) : (!s && e.setMap.has(t) ? e.assignedMap.set(t, !1) : e.assignedMap.delete(t), e.setMap.delete(t));
  },
  clear() {
    if (!this.size)
      return;
    const t = k(this);
    Z(t), dt(t);
    for (const e of t.original)
      t.assignedMap.set(e, !1);
    t.setMap.clear();
  },
  values() {
    const t = k(this);
    Z(t);
    const e = t.setMap.keys();
    return {
      [Symbol.iterator]: () => this.values(),
      next: Is(t, e, { isValuesIterator: !0 })
    };
  },
  entries() {
    const t = k(this);
    Z(t);
    const e = t.setMap.keys();
    return {
      [Symbol.iterator]: () => this.entries(),
      next: Is(t, e, {
        isValuesIterator: !1
      })
    };
  },
  keys() {
    return this.values();
  },
  [oe]() {
    return this.values();
  },
  forEach(t, e) {
    const s = this.values();
    let n = s.next();
    for (; !n.done; )
      t.call(e, n.value, n.value, this), n = s.next();
  }
};
Set.prototype.difference && Object.assign(he, {
  intersection(t) {
    return Set.prototype.intersection.call(new Set(this.values()), t);
  },
  union(t) {
    return Set.prototype.union.call(new Set(this.values()), t);
  },
  difference(t) {
    return Set.prototype.difference.call(new Set(this.values()), t);
  },
  symmetricDifference(t) {
    return Set.prototype.symmetricDifference.call(new Set(this.values()), t);
  },
  isSubsetOf(t) {
    return Set.prototype.isSubsetOf.call(new Set(this.values()), t);
  },
  isSupersetOf(t) {
    return Set.prototype.isSupersetOf.call(new Set(this.values()), t);
  },
  isDisjointFrom(t) {
    return Set.prototype.isDisjointFrom.call(new Set(this.values()), t);
  }
});
const Oi = Reflect.ownKeys(he), tn = {
  get(t, e, s) {
    var n, i;
    const o = (n = t.copy) === null || n === void 0 ? void 0 : n[e];
    if (o && t.finalities.draftsCache.has(o))
      return o;
    if (e === Ks)
      return t;
    let r;
    if (t.options.mark) {
      const l = e === "size" && (t.original instanceof Map || t.original instanceof Set) ? Reflect.get(t.original, e) : Reflect.get(t.original, e, s);
      if (r = t.options.mark(l, at), r === at.mutable)
        return t.options.strict && pe(l, t.options, !0), l;
    }
    const a = st(t);
    if (a instanceof Map && Si.includes(e))
      return e === "size" ? Object.getOwnPropertyDescriptor(Be, "size").get.call(t.proxy) : Be[e].bind(t.proxy);
    if (a instanceof Set && Oi.includes(e))
      return e === "size" ? Object.getOwnPropertyDescriptor(he, "size").get.call(t.proxy) : he[e].bind(t.proxy);
    if (!zt(a, e)) {
      const l = As(a, e);
      return l ? "value" in l ? l.value : (
        // !case: support for getter
        (i = l.get) === null || i === void 0 ? void 0 : i.call(t.proxy)
      ) : void 0;
    }
    const u = a[e];
    if (t.options.strict && pe(u, t.options), t.finalized || !Dt(u, t.options))
      return u;
    if (u === Ae(t.original, e)) {
      if (Z(t), t.copy[e] = en({
        original: t.original[e],
        parentDraft: t,
        key: t.type === 1 ? Number(e) : e,
        finalities: t.finalities,
        options: t.options
      }), typeof r == "function") {
        const l = k(t.copy[e]);
        return Z(l), dt(l), l.copy;
      }
      return t.copy[e];
    }
    return fe(u) && t.finalities.draftsCache.add(u), u;
  },
  set(t, e, s) {
    var n;
    if (t.type === 3 || t.type === 2)
      throw new Error("Map/Set draft does not support any property assignment.");
    let i;
    if (t.type === 1 && e !== "length" && !(Number.isInteger(i = Number(e)) && i >= 0 && (e === 0 || i === 0 || String(i) === String(e))))
      throw new Error("Only supports setting array indices and the 'length' property.");
    const o = As(st(t), e);
    if (o != null && o.set)
      return o.set.call(t.proxy, s), !0;
    const r = Ae(st(t), e), a = k(r);
    return a && Pt(a.original, s) ? (t.copy[e] = s, t.assignedMap = (n = t.assignedMap) !== null && n !== void 0 ? n : /* @__PURE__ */ new Map(), t.assignedMap.set(e, !1), !0) : (Pt(s, r) && (s !== void 0 || zt(t.original, e)) || (Z(t), dt(t), zt(t.original, e) && Pt(s, t.original[e]) ? t.assignedMap.delete(e) : t.assignedMap.set(e, !0), t.copy[e] = s, is(t, e, s, Jt)), !0);
  },
  has(t, e) {
    return e in st(t);
  },
  ownKeys(t) {
    return Reflect.ownKeys(st(t));
  },
  getOwnPropertyDescriptor(t, e) {
    const s = st(t), n = Reflect.getOwnPropertyDescriptor(s, e);
    return n && {
      writable: !0,
      configurable: t.type !== 1 || e !== "length",
      enumerable: n.enumerable,
      value: s[e]
    };
  },
  getPrototypeOf(t) {
    return Reflect.getPrototypeOf(t.original);
  },
  setPrototypeOf() {
    throw new Error("Cannot call 'setPrototypeOf()' on drafts");
  },
  defineProperty() {
    throw new Error("Cannot call 'defineProperty()' on drafts");
  },
  deleteProperty(t, e) {
    var s;
    return t.type === 1 ? tn.set.call(this, t, e, void 0, t.proxy) : (Ae(t.original, e) !== void 0 || e in t.original ? (Z(t), dt(t), t.assignedMap.set(e, !1)) : (t.assignedMap = (s = t.assignedMap) !== null && s !== void 0 ? s : /* @__PURE__ */ new Map(), t.assignedMap.delete(e)), t.copy && delete t.copy[e], !0);
  }
};
function en(t) {
  const { original: e, parentDraft: s, key: n, finalities: i, options: o } = t, r = Xt(e), a = {
    type: r,
    finalized: !1,
    parent: s,
    original: e,
    copy: null,
    proxy: null,
    finalities: i,
    options: o,
    // Mapping of draft Set items to their corresponding draft values.
    setMap: r === 3 ? new Map(e.entries()) : void 0
  };
  (n || "key" in t) && (a.key = n);
  const { proxy: u, revoke: l } = Proxy.revocable(r === 1 ? Object.assign([], a) : a, tn);
  if (i.revoke.push(l), a.proxy = u, s) {
    const c = s;
    c.finalities.draft.push((f, h) => {
      var p, d;
      const b = k(u);
      let w = c.type === 3 ? c.setMap : c.copy;
      const A = Et(w, n), S = k(A);
      if (S) {
        let O = S.original;
        S.operated && (O = ss(A)), Ne(S), Fe(S, Jt, f, h), c.options.enableAutoFreeze && (c.options.updatedValues = (p = c.options.updatedValues) !== null && p !== void 0 ? p : /* @__PURE__ */ new WeakMap(), c.options.updatedValues.set(O, S.original)), ns(w, n, O);
      }
      (d = b.callbacks) === null || d === void 0 || d.forEach((O) => {
        O(f, h);
      });
    });
  } else {
    const c = k(u);
    c.finalities.draft.push((f, h) => {
      Ne(c), Fe(c, Jt, f, h);
    });
  }
  return u;
}
es.createDraft = en;
Object.prototype.constructor.toString();
const Ri = (t) => typeof t == "string" && t.startsWith("data:"), de = (t) => {
  const e = t.match(/^data:([^;]+)/);
  return e ? e[1] : Kt.OCTET_STREAM;
}, sn = (t) => {
  var e;
  const s = {}, n = (e = t.match(/^data:[^;]+;([^,]+),/)) == null ? void 0 : e[1];
  return n && n.split(";").forEach((i) => {
    const [o, r] = i.split("=");
    o && r && (s[o] = r);
  }), s;
}, Ei = (t) => {
  const e = new Uint8Array(t), s = btoa(String.fromCharCode(...e));
  return `data:${Kt.OCTET_STREAM};base64,${s}`;
}, Mi = (t, e) => {
  const s = t.buffer, n = new Uint8Array(s), i = btoa(String.fromCharCode(...n));
  return `data:${Kt.TYPED_ARRAY}${e};base64,${i}`;
}, ue = async (t, e) => {
  if (Ci(t)) {
    const o = Ii(t);
    if (!o)
      throw new Error("Invalid URL data URL");
    const r = await fetch(o, { ...e, redirect: "follow" });
    if (!r.ok)
      throw new Error(`Failed to fetch ${o}: ${r.statusText}`);
    return r.arrayBuffer();
  }
  const s = t.indexOf(",");
  if (s === -1)
    throw new Error("Invalid data URL format");
  const n = t.substring(0, s), i = t.substring(s + 1);
  if (n.includes(";base64")) {
    if (!i)
      return new ArrayBuffer(0);
    const o = atob(i), r = new Uint8Array(o.length);
    for (let a = 0; a < o.length; a++)
      r[a] = o.charCodeAt(a);
    return r.buffer;
  } else {
    const o = i ? decodeURIComponent(i) : "";
    return new TextEncoder().encode(o).buffer;
  }
}, Ai = async (t, e) => {
  const s = sn(t).type;
  if (!s)
    throw new Error("Data URL does not contain type parameter");
  const n = await ue(t, e), i = globalThis[s];
  return new i(n);
}, Ii = (t) => de(t) !== Kt.URI ? null : decodeURIComponent(t.split(",")[1]), Ci = (t) => de(t) === Kt.URI;
var Cs = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", $i = typeof Uint8Array > "u" ? [] : new Uint8Array(256);
for (var ne = 0; ne < Cs.length; ne++)
  $i[Cs.charCodeAt(ne)] = ne;
var ye;
(function(t) {
  t.base64 = "base64", t.url = "url", t.utf8 = "utf8", t.json = "json", t.key = "key";
})(ye || (ye = {}));
const Pi = Object.keys(ye).filter((t) => isNaN(Number(t)));
new Set(Pi);
ye.utf8;
new TextEncoder();
const xi = (t) => t instanceof ArrayBuffer || t instanceof Blob || ArrayBuffer.isView(t), Di = (t) => typeof t == "string" ? t.startsWith("data:") : !!(t && typeof t == "object" && (t._s === !0 && t._c || t.ref === "base64" && t.c)), ve = async (t) => {
  const e = Object.keys(t), s = [];
  for (const i of e)
    xi(t[i]) && s.push(i);
  if (s.length === 0)
    return t;
  const n = { ...t };
  for (const i of s)
    n[i] = await ji(t[i]);
  return n;
}, Vt = async (t) => {
  const e = Object.keys(t), s = [];
  for (const i of e)
    Di(t[i]) && s.push(i);
  if (s.length === 0)
    return t;
  const n = { ...t };
  for (const i of s)
    n[i] = await os(t[i]);
  return n;
}, rs = /* @__PURE__ */ new Set([
  "Int8Array",
  "Uint8Array",
  "Uint8ClampedArray",
  "Int16Array",
  "Uint16Array",
  "Int32Array",
  "Uint32Array",
  "Float32Array",
  "Float64Array",
  "BigInt64Array",
  "BigUint64Array"
]), ji = async (t) => {
  if (t instanceof Int8Array || t instanceof Uint8Array || t instanceof Uint8ClampedArray || t instanceof Int16Array || t instanceof Uint16Array || t instanceof Int32Array || t instanceof Uint32Array || t instanceof Float32Array || t instanceof Float64Array)
    return Mi(t, t.constructor.name);
  if (t instanceof File) {
    const e = await t.arrayBuffer(), s = new Uint8Array(e), n = btoa(String.fromCharCode(...s)), i = t.type || "application/octet-stream", o = encodeURIComponent(t.name);
    return `data:${i};file=true;name=${o};lastModified=${t.lastModified};base64,${n}`;
  } else if (t instanceof Blob) {
    const e = await t.arrayBuffer(), s = new Uint8Array(e), n = btoa(String.fromCharCode(...s));
    return `data:${t.type || "application/octet-stream"};blob=true;base64,${n}`;
  } else if (t instanceof ArrayBuffer)
    return Ei(t);
  return t;
}, os = async (t) => Ri(t) ? Ti(t) : !t || typeof t != "object" ? t : t._s === !0 && t._c ? Li(t) : t.ref === "base64" && t.c ? ki(t) : t, Zr = async (t) => {
  const e = await os(t);
  if (e instanceof File)
    return e;
  if (e instanceof Blob)
    return new File([e], "file", { type: e.type });
  if (e instanceof ArrayBuffer)
    return new File([e], "file", {
      type: "application/octet-stream"
    });
  if (ArrayBuffer.isView(e))
    return new File([e.buffer], "file", {
      type: "application/octet-stream"
    });
}, to = async (t, e, s) => {
  if (t = await os(t), s = s || {}, s.type || (s.type = "application/octet-stream"), t instanceof ArrayBuffer)
    return new File([t], e, s);
  if (t instanceof File || t instanceof Blob) {
    const i = await t.arrayBuffer();
    return t instanceof File && (s.type = t.type), new File([i], e, s);
  }
  if (ArrayBuffer.isView(t))
    return new File([t.buffer], e, s);
  if (typeof t == "string") {
    const i = new Blob([t], { type: "text/plain" });
    return s.type = "text/plain", new File([i], e, s);
  }
  if (typeof t == "object") {
    const i = new Blob([JSON.stringify(t)], {
      type: "application/json"
    });
    return s.type = "application/json", new File([i], e, s);
  }
  const n = new Blob([t], { type: "text/plain" });
  return s.type = "text/plain", new File([n], e, s);
};
async function Ti(t) {
  const e = sn(t);
  if (e.type && rs.has(e.type))
    return Ai(t);
  if (e.file === "true") {
    const s = e.name ? decodeURIComponent(e.name) : "file", n = e.lastModified ? parseInt(e.lastModified, 10) : void 0, i = de(t), o = await ue(t);
    return new File([o], s, { type: i, lastModified: n });
  }
  if (e.blob === "true") {
    const s = de(t), n = await ue(t);
    return new Blob([n], { type: s });
  }
  return t.startsWith("data:application/octet-stream;base64,") ? ue(t) : t;
}
function Li(t) {
  const e = t._c;
  if (e === "Blob") {
    const n = t;
    return new Blob([St(t.value)], { type: n.fileType });
  } else if (e === "File") {
    const n = t;
    return new File([St(t.value)], n.name, {
      type: n.fileType,
      lastModified: n.lastModified
    });
  } else if (e === "ArrayBuffer")
    return St(t.value);
  const s = St(t.value);
  if (rs.has(e))
    try {
      return new globalThis[e](s);
    } catch {
    }
  return t;
}
function ki(t) {
  const e = t.c;
  if (e === "Blob")
    return new Blob([St(t.value)], {
      type: t.fileType || void 0
    });
  if (e === "File")
    return new File([St(t.value)], t.name || "file", {
      type: t.fileType || void 0,
      lastModified: t.lastModified || void 0
    });
  if (e === "ArrayBuffer")
    return St(t.value);
  const s = St(t.value);
  if (rs.has(e))
    try {
      return new globalThis[e](s);
    } catch {
    }
  return t;
}
var I;
(function(t) {
  t.Inputs = "inputs", t.Outputs = "outputs", t.State = "state", t.Definition = "definition", t.DefinitionUpdate = "definitionupdate", t.Error = "error", t.Warning = "warning", t.UrlHashUpdate = "urlhashupdate", t.Message = "Message";
})(I || (I = {}));
var Y;
(function(t) {
  t.InputsUpdate = "InputsUpdate", t.OutputsUpdate = "OutputsUpdate", t.SetupIframeClientRequest = "SetupIframeClientRequest", t.SetupIframeServerResponseAck = "SetupIframeServerResponseAck", t.HashParamsUpdate = "HashParamsUpdate";
})(Y || (Y = {}));
var Ot;
(function(t) {
  t.InputsUpdate = "InputsUpdate", t.MessageAck = "MessageAck", t.SetupIframeServerResponse = "SetupIframeServerResponse";
})(Ot || (Ot = {}));
const eo = -32700, so = -32600, no = -32601, io = -32602, ro = -32603;
function oo(t) {
  switch (typeof t) {
    case "string":
      return !0;
    case "number":
      return t % 1 != 0;
    case "object":
      return t === null ? (console.warn("Use of null ID in JSONRPC 2.0 is discouraged."), !0) : !1;
    default:
      return !1;
  }
}
var nn = { exports: {} };
(function(t) {
  var e = Object.prototype.hasOwnProperty, s = "~";
  function n() {
  }
  Object.create && (n.prototype = /* @__PURE__ */ Object.create(null), new n().__proto__ || (s = !1));
  function i(u, l, c) {
    this.fn = u, this.context = l, this.once = c || !1;
  }
  function o(u, l, c, f, h) {
    if (typeof c != "function")
      throw new TypeError("The listener must be a function");
    var p = new i(c, f || u, h), d = s ? s + l : l;
    return u._events[d] ? u._events[d].fn ? u._events[d] = [u._events[d], p] : u._events[d].push(p) : (u._events[d] = p, u._eventsCount++), u;
  }
  function r(u, l) {
    --u._eventsCount === 0 ? u._events = new n() : delete u._events[l];
  }
  function a() {
    this._events = new n(), this._eventsCount = 0;
  }
  a.prototype.eventNames = function() {
    var l = [], c, f;
    if (this._eventsCount === 0)
      return l;
    for (f in c = this._events)
      e.call(c, f) && l.push(s ? f.slice(1) : f);
    return Object.getOwnPropertySymbols ? l.concat(Object.getOwnPropertySymbols(c)) : l;
  }, a.prototype.listeners = function(l) {
    var c = s ? s + l : l, f = this._events[c];
    if (!f)
      return [];
    if (f.fn)
      return [f.fn];
    for (var h = 0, p = f.length, d = new Array(p); h < p; h++)
      d[h] = f[h].fn;
    return d;
  }, a.prototype.listenerCount = function(l) {
    var c = s ? s + l : l, f = this._events[c];
    return f ? f.fn ? 1 : f.length : 0;
  }, a.prototype.emit = function(l, c, f, h, p, d) {
    var b = s ? s + l : l;
    if (!this._events[b])
      return !1;
    var w = this._events[b], A = arguments.length, S, O;
    if (w.fn) {
      switch (w.once && this.removeListener(l, w.fn, void 0, !0), A) {
        case 1:
          return w.fn.call(w.context), !0;
        case 2:
          return w.fn.call(w.context, c), !0;
        case 3:
          return w.fn.call(w.context, c, f), !0;
        case 4:
          return w.fn.call(w.context, c, f, h), !0;
        case 5:
          return w.fn.call(w.context, c, f, h, p), !0;
        case 6:
          return w.fn.call(w.context, c, f, h, p, d), !0;
      }
      for (O = 1, S = new Array(A - 1); O < A; O++)
        S[O - 1] = arguments[O];
      w.fn.apply(w.context, S);
    } else {
      var $ = w.length, E;
      for (O = 0; O < $; O++)
        switch (w[O].once && this.removeListener(l, w[O].fn, void 0, !0), A) {
          case 1:
            w[O].fn.call(w[O].context);
            break;
          case 2:
            w[O].fn.call(w[O].context, c);
            break;
          case 3:
            w[O].fn.call(w[O].context, c, f);
            break;
          case 4:
            w[O].fn.call(w[O].context, c, f, h);
            break;
          default:
            if (!S)
              for (E = 1, S = new Array(A - 1); E < A; E++)
                S[E - 1] = arguments[E];
            w[O].fn.apply(w[O].context, S);
        }
    }
    return !0;
  }, a.prototype.on = function(l, c, f) {
    return o(this, l, c, f, !1);
  }, a.prototype.once = function(l, c, f) {
    return o(this, l, c, f, !0);
  }, a.prototype.removeListener = function(l, c, f, h) {
    var p = s ? s + l : l;
    if (!this._events[p])
      return this;
    if (!c)
      return r(this, p), this;
    var d = this._events[p];
    if (d.fn)
      d.fn === c && (!h || d.once) && (!f || d.context === f) && r(this, p);
    else {
      for (var b = 0, w = [], A = d.length; b < A; b++)
        (d[b].fn !== c || h && !d[b].once || f && d[b].context !== f) && w.push(d[b]);
      w.length ? this._events[p] = w.length === 1 ? w[0] : w : r(this, p);
    }
    return this;
  }, a.prototype.removeAllListeners = function(l) {
    var c;
    return l ? (c = s ? s + l : l, this._events[c] && r(this, c)) : (this._events = new n(), this._eventsCount = 0), this;
  }, a.prototype.off = a.prototype.removeListener, a.prototype.addListener = a.prototype.on, a.prefixed = s, a.EventEmitter = a, t.exports = a;
})(nn);
var as = nn.exports;
function Ui(t) {
  return t && t.__esModule && Object.prototype.hasOwnProperty.call(t, "default") ? t.default : t;
}
var Hi = function(t, e) {
  e || (e = {}), typeof e == "function" && (e = { cmp: e });
  var s = typeof e.cycles == "boolean" ? e.cycles : !1, n = e.cmp && /* @__PURE__ */ function(o) {
    return function(r) {
      return function(a, u) {
        var l = { key: a, value: r[a] }, c = { key: u, value: r[u] };
        return o(l, c);
      };
    };
  }(e.cmp), i = [];
  return function o(r) {
    if (r && r.toJSON && typeof r.toJSON == "function" && (r = r.toJSON()), r !== void 0) {
      if (typeof r == "number")
        return isFinite(r) ? "" + r : "null";
      if (typeof r != "object")
        return JSON.stringify(r);
      var a, u;
      if (Array.isArray(r)) {
        for (u = "[", a = 0; a < r.length; a++)
          a && (u += ","), u += o(r[a]) || "null";
        return u + "]";
      }
      if (r === null)
        return "null";
      if (i.indexOf(r) !== -1) {
        if (s)
          return JSON.stringify("__cycle__");
        throw new TypeError("Converting circular structure to JSON");
      }
      var l = i.push(r) - 1, c = Object.keys(r).sort(n && n(r));
      for (u = "", a = 0; a < c.length; a++) {
        var f = c[a], h = o(r[f]);
        h && (u && (u += ","), u += JSON.stringify(f) + ":" + h);
      }
      return i.splice(l, 1), "{" + u + "}";
    }
  }(t);
};
const Ni = /* @__PURE__ */ Ui(Hi), Fi = (t) => us(Ni(t)), Bi = (t) => {
  if (t && t.length > 0)
    try {
      return JSON.parse(rn(t));
    } catch {
      return JSON.parse(decodeURIComponent(atob(decodeURIComponent(t))));
    }
}, us = (t) => btoa(encodeURIComponent(t)), rn = (t) => {
  try {
    return decodeURIComponent(atob(t));
  } catch {
    return decodeURIComponent(atob(decodeURIComponent(t)));
  }
}, on = (t) => {
  const e = t instanceof URL ? t : new URL(t);
  return an(e.hash);
}, an = (t) => {
  let e = t;
  for (; e.startsWith("#"); )
    e = e.substring(1);
  const s = e.indexOf("?");
  if (s === -1)
    return [e, {}];
  const n = e.substring(0, s);
  e = e.substring(s + 1);
  const i = {};
  return e.split("&").filter((o) => o.length > 0).map((o) => {
    const r = o.indexOf("=");
    if (r === -1)
      return [o, ""];
    const a = o.substring(0, r), u = o.substring(r + 1);
    return [a, u];
  }).forEach(([o, r]) => {
    i[o] = r;
  }), Object.keys(i).forEach((o) => {
    i[o] = i[o];
  }), [n, i];
}, Yt = (t, e) => {
  const [s, n] = on(t);
  return n[e];
}, Mt = () => typeof window < "u" && typeof globalThis.location < "u", zi = (t) => {
  if (Mt())
    return Vi()[1][t];
}, Vi = () => Mt() ? on(globalThis.location.href) : ["", {}], Lt = (t, e, s) => {
  if (!Mt())
    return;
  const n = globalThis.location.hash.startsWith("#") ? globalThis.location.hash.substring(1) : globalThis.location.hash, i = un(n, t, e);
  i !== n && (s != null && s.modifyHistory ? globalThis.location.hash = i : (globalThis.history.replaceState(null, typeof document < "u" ? document.title : "", `${globalThis.location.pathname}${globalThis.location.search}${i.startsWith("#") ? "" : "#"}${i}`), globalThis.dispatchEvent(new HashChangeEvent("hashchange"))));
}, un = (t, e, s) => {
  const [n, i] = an(t);
  let o = !1;
  if (i.hasOwnProperty(e) && s === null || s === void 0 ? (delete i[e], o = !0) : i[e] !== s && (i[e] = s, o = !0), !o)
    return t;
  const r = Object.keys(i);
  r.sort();
  const a = r.map((u, l) => {
    const c = i[u];
    return /^[A-Za-z0-9+/]+={0,2}$/.test(c) && c.length % 4, `${u}=${c}`;
  }).join("&");
  return !n && !a ? "" : `${n || ""}${a ? "?" + a : ""}`;
}, Wi = (t, e, s) => {
  const n = t instanceof URL ? t : new URL(t), i = un(n.hash, e, s);
  return n.hash = i, n;
}, cs = (t, e) => {
  const s = Yt(t, e);
  if (s && s !== "")
    return Bi(s);
}, Ji = (t, e, s) => {
  const n = e ? Fi(e) : void 0;
  Lt(t, n, s);
}, Gi = (t) => {
  if (Mt())
    return cs(globalThis.location.href, t);
}, Qi = (t, e) => {
  const s = Yt(t, e);
  return s ? parseFloat(s) : void 0;
}, cn = (t, e, s) => {
  Lt(t, e != null ? e.toString() : void 0, s);
}, Ki = (t) => {
  if (Mt())
    return Qi(globalThis.location.href, t);
}, Xi = (t, e) => {
  const s = Yt(t, e);
  return s ? parseInt(s) : void 0;
}, Yi = (t, e, s) => {
  cn(t, e, s);
}, qi = (t) => {
  if (Mt())
    return Xi(globalThis.location.href, t);
}, Zi = (t, e) => Yt(t, e) === "true", tr = (t, e, s) => {
  Lt(t, e ? "true" : void 0, s);
}, er = (t) => {
  if (Mt())
    return Zi(globalThis.location.href, t);
}, kt = (t, e, s) => Wi(t, e, s == null ? void 0 : us(s)), ze = (t, e) => {
  const s = Yt(t, e);
  return s && s !== "" ? rn(s) : void 0;
}, sr = (t, e, s) => {
  const n = e == null ? void 0 : us(e);
  Lt(t, n, s);
}, nr = (t) => {
  if (Mt())
    return ze(globalThis.location.href, t);
};
var ir = function(t, e) {
  e || (e = {}), typeof e == "function" && (e = { cmp: e });
  var s = typeof e.cycles == "boolean" ? e.cycles : !1, n = e.cmp && function(o) {
    return function(r) {
      return function(a, u) {
        var l = { key: a, value: r[a] }, c = { key: u, value: r[u] };
        return o(l, c);
      };
    };
  }(e.cmp), i = [];
  return function o(r) {
    if (r && r.toJSON && typeof r.toJSON == "function" && (r = r.toJSON()), r !== void 0) {
      if (typeof r == "number")
        return isFinite(r) ? "" + r : "null";
      if (typeof r != "object")
        return JSON.stringify(r);
      var a, u;
      if (Array.isArray(r)) {
        for (u = "[", a = 0; a < r.length; a++)
          a && (u += ","), u += o(r[a]) || "null";
        return u + "]";
      }
      if (r === null)
        return "null";
      if (i.indexOf(r) !== -1) {
        if (s)
          return JSON.stringify("__cycle__");
        throw new TypeError("Converting circular structure to JSON");
      }
      var l = i.push(r) - 1, c = Object.keys(r).sort(n && n(r));
      for (u = "", a = 0; a < c.length; a++) {
        var f = c[a], h = o(r[f]);
        h && (u && (u += ","), u += JSON.stringify(f) + ":" + h);
      }
      return i.splice(l, 1), "{" + u + "}";
    }
  }(t);
};
const ln = /* @__PURE__ */ Je(ir);
var Gt;
(function(t) {
  t.mp_debug = "mp_debug";
})(Gt || (Gt = {}));
const rr = () => {
  try {
    return window !== window.top;
  } catch {
    return !1;
  }
}, fn = {
  metaframes: {}
};
class or extends as.EventEmitter {
  constructor() {
    super(), this._definition = fn, this.getDefinition = this.getDefinition.bind(this);
  }
  error(e) {
    throw "Subclass should implement";
  }
  getDefinition() {
    return this._definition;
  }
}
const me = (t, e) => e ? C(t, (s) => {
  Object.keys(e).forEach((n) => {
    e[n] === void 0 ? delete s[n] : s[n] = e[n];
  });
}) : t, ao = (t) => globalThis != null && globalThis.location.search ? new URLSearchParams(globalThis.location.search).get(t) : null, uo = () => new URLSearchParams(globalThis.location.search).has(Gt.mp_debug), Ve = () => {
  var e;
  const t = new URLSearchParams((e = globalThis == null ? void 0 : globalThis.location) == null ? void 0 : e.search).get(Gt.mp_debug);
  return t === "true" || t === "1";
}, co = (t = 8) => ls(t), ar = (t = 8) => ls(t), lo = (t = 8) => ls(t), $s = "abcdefghijklmnopqrstuvwxyz0123456789", ls = (t = 8) => {
  for (var e = "", s = $s.length, n = 0; n < t; n++)
    e += $s.charAt(Math.floor(Math.random() * s));
  return e;
}, fs = (t, e, s) => {
  e = e || "000", e && e.trim() == "" && (e = void 0);
  let n;
  if (typeof t == "string" ? n = t : typeof t == "number" ? n = t + "" : n = JSON.stringify(t, null, "  "), e && e.trim() != "") {
    var i = `color: #${e}`;
    s && (i = `${i}; background: #${s}`), n = `%c${n}`, globalThis.console.log(n, i);
  } else
    globalThis.console.log(n);
}, pn = (t) => cr(ur(t)), ur = (t) => {
  var e = 0;
  for (let s = 0; s < t.length; s++)
    e = t.charCodeAt(s) + ((e << 5) - e);
  return e;
}, cr = (t) => {
  var e = (t & 16777215).toString(16).toUpperCase();
  return "00000".substring(0, 6 - e.length) + e;
}, Ie = () => {
  var t, e;
  return ((t = globalThis == null ? void 0 : globalThis.document) == null ? void 0 : t.readyState) == "complete" || ((e = globalThis == null ? void 0 : globalThis.document) == null ? void 0 : e.readyState) == "interactive";
}, qt = async () => Ie() ? Promise.resolve() : new Promise((t) => {
  if (Ie()) {
    t();
    return;
  }
  let e = !1;
  globalThis == null || globalThis.addEventListener("load", () => {
    e || (e = !0, t());
  }), setTimeout(() => {
    !e && Ie() && (e = !0, t());
  }, 200);
}), fo = async (t) => {
  const e = ln(t);
  return await hn(e);
}, po = async (t) => {
  const e = ln({
    version: t.version,
    metaframes: t.metaframes
  });
  return await hn(e);
};
async function hn(t) {
  const s = new TextEncoder().encode(t), n = await crypto.subtle.digest("SHA-256", s);
  return btoa(String.fromCharCode(...new Uint8Array(n)));
}
var ft;
(function(t) {
  t.WaitingForPageLoad = "WaitingForPageLoad", t.SentSetupIframeClientRequest = "SentSetupIframeClientRequest", t.Ready = "Ready";
})(ft || (ft = {}));
var W;
(function(t) {
  t.Connected = "connected", t.Error = "error", t.Input = "input", t.Inputs = "inputs", t.Message = "message";
})(W || (W = {}));
class ct extends as.EventEmitter {
  constructor(e) {
    if (super(), this._inputPipeValues = {}, this._outputPipeValues = {}, this._state = ft.WaitingForPageLoad, this._messageSendCount = 0, this.debug = Ve(), this.isInputOutputBlobSerialization = !0, this.id = window.name, this.debug = Ve(), this._isIframe = rr(), this.addListener = this.addListener.bind(this), this.dispose = this.dispose.bind(this), this.error = this.error.bind(this), this.getInput = this.getInput.bind(this), this.getInputs = this.getInputs.bind(this), this.log = this.log.bind(this), this.logInternal = this.logInternal.bind(this), this.onInput = this.onInput.bind(this), this.onInputs = this.onInputs.bind(this), this.onMessage = this.onMessage.bind(this), this.sendRpc = this.sendRpc.bind(this), this.setInput = this.setInput.bind(this), this.setInputs = this.setInputs.bind(this), this.setInternalInputsAndNotify = this.setInternalInputsAndNotify.bind(this), this.setOutput = this.setOutput.bind(this), this.setOutputs = this.setOutputs.bind(this), this.warn = this.warn.bind(this), this._resolveSetupIframeServerResponse = this._resolveSetupIframeServerResponse.bind(this), this.addListenerReturnDisposer = this.addListenerReturnDisposer.bind(this), this.connected = this.connected.bind(this), this.isConnected = this.isConnected.bind(this), this.disableNotifyOnHashUrlChange = this.disableNotifyOnHashUrlChange.bind(this), this._onHashUrlChange = this._onHashUrlChange.bind(this), this.setParameter = this.setParameter.bind(this), this.setParameterBoolean = this.setParameterBoolean.bind(this), this.setParameterJson = this.setParameterJson.bind(this), this.setParameterBase64 = this.setParameterBase64.bind(this), this.setParameterFloat = this.setParameterFloat.bind(this), this.setParameterInt = this.setParameterInt.bind(this), this.getParameter = this.getParameter.bind(this), this.getParameterBoolean = this.getParameterBoolean.bind(this), this.getParameterJson = this.getParameterJson.bind(this), this.getParameterBase64 = this.getParameterBase64.bind(this), this.getParameterFloat = this.getParameterFloat.bind(this), this.getParameterInt = this.getParameterInt.bind(this), this.deleteParameter = this.deleteParameter.bind(this), !this._isIframe) {
      this.log("Not an iframe, metaframe code disabled");
      return;
    }
    const s = this;
    qt().then(() => {
      this.log("pageLoaded"), window.addEventListener("message", this.onMessage), s.sendRpc(Y.SetupIframeClientRequest, {
        version: ct.version
      }), s._state = ft.SentSetupIframeClientRequest;
    }), e && e.disableHashChangeEvent || window.addEventListener("hashchange", this._onHashUrlChange);
  }
  _resolveSetupIframeServerResponse(e) {
    if (this._state === ft.WaitingForPageLoad)
      throw "Got message but page has not finished loading, we should never get in this state";
    (async () => this._parentId ? this.log("Got JsonRpcMethods.SetupIframeServerResponse but already resolved") : (this._parentVersion = e.version, this.color = pn(this.id), this._parentId = e.parentId, this.log(`metapage[${this._parentId}](v${this._parentVersion ? this._parentVersion : "unknown"}) registered`), e.state && e.state.inputs && (this.isInputOutputBlobSerialization ? this._inputPipeValues = await Vt(e.state.inputs) : this._inputPipeValues = e.state.inputs), this._state = ft.Ready, this.sendRpc(Y.SetupIframeServerResponseAck, {
      version: ct.version
    }), this._inputPipeValues && Object.keys(this._inputPipeValues).length > 0 && (this.emit(W.Inputs, this._inputPipeValues), this.listenerCount(W.Input) > 0 && Object.keys(this._inputPipeValues).forEach((s) => this.emit(W.Input, s, this._inputPipeValues[s]))), this.emit(W.Connected), this.sendRpc(Y.OutputsUpdate, this._outputPipeValues)))();
  }
  isConnected() {
    return this._state === ft.Ready;
  }
  async connected() {
    return new Promise((e, s) => {
      if (this._state === ft.Ready) {
        e();
        return;
      }
      let n;
      n = this.addListenerReturnDisposer(W.Connected, () => {
        e(), n();
      });
    });
  }
  addListenerReturnDisposer(e, s) {
    return super.addListener(e, s), () => {
      super.removeListener(e, s);
    };
  }
  log(e, s, n) {
    this.debug && this.logInternal(e, s || this.color);
  }
  warn(e) {
    this.debug && this.logInternal(e, "000", this.color);
  }
  error(e) {
    this.logInternal(e, this.color, "f00");
  }
  logInternal(e, s, n) {
    let i;
    typeof e == "string" ? i = e : typeof e == "number" ? i = e + "" : i = JSON.stringify(e), s = s && s + "", i = (this.id ? `Metaframe[${this.id}] ` : "") + `${i}`, fs(i, s, n);
  }
  dispose() {
    super.removeAllListeners(), window.removeEventListener("message", this.onMessage), this.disableNotifyOnHashUrlChange(), this._inputPipeValues = void 0, this._outputPipeValues = void 0;
  }
  addListener(e, s) {
    return super.addListener(e, s), e === W.Inputs && window.setTimeout(() => {
      this._inputPipeValues && s(this._inputPipeValues);
    }, 0), this;
  }
  onInput(e, s) {
    return this.addListenerReturnDisposer(W.Input, (n, i) => {
      e === n && s(i);
    });
  }
  onInputs(e) {
    return this.addListenerReturnDisposer(W.Inputs, e);
  }
  setInput(e, s) {
    var n = {};
    n[e] = s, this.setInputs(n);
  }
  async setInputs(e) {
    this.isInputOutputBlobSerialization && (e = await Vt(e)), this.sendRpc(Y.InputsUpdate, e);
  }
  async setInternalInputsAndNotify(e) {
    this.isInputOutputBlobSerialization && (e = await Vt(e));
    const s = e;
    if (this._inputPipeValues = me(this._inputPipeValues, e), this._inputPipeValues !== s) {
      Object.keys(e).forEach((n) => {
        try {
          this.emit(W.Input, n, e[n]);
        } catch (i) {
          console.error(`Error emitting input ${n}: ${i}`), this.emit(W.Error, `Error emitting input ${n}: ${i}`);
        }
      });
      try {
        this.emit(W.Inputs, e);
      } catch (n) {
        console.error(`Error emitting inputs: ${n}`), this.emit(W.Error, `Error emitting inputs: ${n}`);
      }
    }
  }
  getInput(e) {
    return console.assert(!!e), this._inputPipeValues[e];
  }
  getInputs() {
    return this._inputPipeValues;
  }
  setOutput(e, s) {
    console.assert(!!e);
    var n = {};
    n[e] = s, this.setOutputs(n);
  }
  async setOutputs(e) {
    this.isInputOutputBlobSerialization && (e = await ve(e));
    const s = e;
    this._outputPipeValues = me(this._outputPipeValues, e), this._outputPipeValues !== s && this._state === ft.Ready && this.sendRpc(Y.OutputsUpdate, e);
  }
  disableNotifyOnHashUrlChange() {
    window.removeEventListener("hashchange", this._onHashUrlChange);
  }
  _onHashUrlChange(e) {
    const s = {
      hash: window.location.hash,
      metaframe: this.id
    };
    this.sendRpc(Y.HashParamsUpdate, s);
  }
  sendRpc(e, s) {
    if (this._isIframe) {
      const n = {
        jsonrpc: "2.0",
        id: ++this._messageSendCount,
        method: e,
        params: s,
        iframeId: this.id,
        parentId: this._parentId
      };
      window.parent && window.parent.postMessage(n, "*");
    } else
      this.log("Cannot send JSON-RPC window message: there is no window.parent which means we are not an iframe");
  }
  onMessage(e) {
    if (typeof e.data == "object") {
      let n = e.data;
      if (n.jsonrpc === "2.0") {
        var s = n.method;
        if (!(s == "SetupIframeServerResponse" || n.parentId == this._parentId && n.iframeId == this.id)) {
          this.log(`window.message: received message (method=${s}) but jsonrpc.parentId=${n.parentId} _parentId=${this._parentId} jsonrpc.iframeId=${n.iframeId} id=${this.id}`);
          return;
        }
        switch (s) {
          case Ot.SetupIframeServerResponse:
            this._resolveSetupIframeServerResponse(n.params);
            break;
          case Ot.InputsUpdate:
            if (this._state !== ft.Ready)
              throw "Got InputsUpdate but metaframe is not MetaframeLoadingState.Ready";
            this.setInternalInputsAndNotify(n.params.inputs);
            break;
          case Ot.MessageAck:
            this.debug && this.log(`ACK: ${JSON.stringify(n)}`);
            break;
          default:
            this.debug && this.log(`window.message: unknown JSON-RPC method: ${JSON.stringify(n)}`);
            break;
        }
        this.listenerCount(W.Message) > 0 && this.emit(W.Message, n);
      }
    }
  }
  setParameter(e, s) {
    Lt(e, s);
  }
  getParameter(e) {
    return zi(e);
  }
  setParameterBoolean(e, s) {
    tr(e, s);
  }
  getParameterBoolean(e) {
    return er(e);
  }
  setParameterJson(e, s) {
    Ji(e, s);
  }
  getParameterJson(e) {
    return Gi(e);
  }
  setParameterBase64(e, s) {
    sr(e, s);
  }
  getParameterBase64(e) {
    return nr(e);
  }
  setParameterFloat(e, s) {
    cn(e, s);
  }
  getParameterFloat(e) {
    return Ki(e);
  }
  setParameterInt(e, s) {
    Yi(e, s);
  }
  getParameterInt(e) {
    return qi(e);
  }
  deleteParameter(e) {
    Lt(e, void 0);
  }
}
ct.version = On;
ct.ERROR = W.Error;
ct.CONNECTED = W.Connected;
ct.INPUT = W.Input;
ct.INPUTS = W.Inputs;
ct.MESSAGE = W.Message;
ct.deserializeInputs = Vt;
ct.serializeInputs = ve;
var Se = {};
const lt = "\\\\/", Ps = `[^${lt}]`, mt = "\\.", lr = "\\+", fr = "\\?", Oe = "\\/", pr = "(?=.)", dn = "[^/]", ps = `(?:${Oe}|$)`, yn = `(?:^|${Oe})`, hs = `${mt}{1,2}${ps}`, hr = `(?!${mt})`, dr = `(?!${yn}${hs})`, yr = `(?!${mt}{0,1}${ps})`, mr = `(?!${hs})`, gr = `[^.${Oe}]`, br = `${dn}*?`, _r = "/", mn = {
  DOT_LITERAL: mt,
  PLUS_LITERAL: lr,
  QMARK_LITERAL: fr,
  SLASH_LITERAL: Oe,
  ONE_CHAR: pr,
  QMARK: dn,
  END_ANCHOR: ps,
  DOTS_SLASH: hs,
  NO_DOT: hr,
  NO_DOTS: dr,
  NO_DOT_SLASH: yr,
  NO_DOTS_SLASH: mr,
  QMARK_NO_DOT: gr,
  STAR: br,
  START_ANCHOR: yn,
  SEP: _r
}, wr = {
  ...mn,
  SLASH_LITERAL: `[${lt}]`,
  QMARK: Ps,
  STAR: `${Ps}*?`,
  DOTS_SLASH: `${mt}{1,2}(?:[${lt}]|$)`,
  NO_DOT: `(?!${mt})`,
  NO_DOTS: `(?!(?:^|[${lt}])${mt}{1,2}(?:[${lt}]|$))`,
  NO_DOT_SLASH: `(?!${mt}{0,1}(?:[${lt}]|$))`,
  NO_DOTS_SLASH: `(?!${mt}{1,2}(?:[${lt}]|$))`,
  QMARK_NO_DOT: `[^.${lt}]`,
  START_ANCHOR: `(?:^|[${lt}])`,
  END_ANCHOR: `(?:[${lt}]|$)`,
  SEP: "\\"
}, vr = {
  alnum: "a-zA-Z0-9",
  alpha: "a-zA-Z",
  ascii: "\\x00-\\x7F",
  blank: " \\t",
  cntrl: "\\x00-\\x1F\\x7F",
  digit: "0-9",
  graph: "\\x21-\\x7E",
  lower: "a-z",
  print: "\\x20-\\x7E ",
  punct: "\\-!\"#$%&'()\\*+,./:;<=>?@[\\]^_`{|}~",
  space: " \\t\\r\\n\\v\\f",
  upper: "A-Z",
  word: "A-Za-z0-9_",
  xdigit: "A-Fa-f0-9"
};
var Re = {
  MAX_LENGTH: 1024 * 64,
  POSIX_REGEX_SOURCE: vr,
  // regular expressions
  REGEX_BACKSLASH: /\\(?![*+?^${}(|)[\]])/g,
  REGEX_NON_SPECIAL_CHARS: /^[^@![\].,$*+?^{}()|\\/]+/,
  REGEX_SPECIAL_CHARS: /[-*+?.^${}(|)[\]]/,
  REGEX_SPECIAL_CHARS_BACKREF: /(\\?)((\W)(\3*))/g,
  REGEX_SPECIAL_CHARS_GLOBAL: /([-*+?.^${}(|)[\]])/g,
  REGEX_REMOVE_BACKSLASH: /(?:\[.*?[^\\]\]|\\(?=.))/g,
  // Replace globs with equivalent patterns to reduce parsing time.
  REPLACEMENTS: {
    __proto__: null,
    "***": "*",
    "**/**": "**",
    "**/**/**": "**"
  },
  // Digits
  CHAR_0: 48,
  /* 0 */
  CHAR_9: 57,
  /* 9 */
  // Alphabet chars.
  CHAR_UPPERCASE_A: 65,
  /* A */
  CHAR_LOWERCASE_A: 97,
  /* a */
  CHAR_UPPERCASE_Z: 90,
  /* Z */
  CHAR_LOWERCASE_Z: 122,
  /* z */
  CHAR_LEFT_PARENTHESES: 40,
  /* ( */
  CHAR_RIGHT_PARENTHESES: 41,
  /* ) */
  CHAR_ASTERISK: 42,
  /* * */
  // Non-alphabetic chars.
  CHAR_AMPERSAND: 38,
  /* & */
  CHAR_AT: 64,
  /* @ */
  CHAR_BACKWARD_SLASH: 92,
  /* \ */
  CHAR_CARRIAGE_RETURN: 13,
  /* \r */
  CHAR_CIRCUMFLEX_ACCENT: 94,
  /* ^ */
  CHAR_COLON: 58,
  /* : */
  CHAR_COMMA: 44,
  /* , */
  CHAR_DOT: 46,
  /* . */
  CHAR_DOUBLE_QUOTE: 34,
  /* " */
  CHAR_EQUAL: 61,
  /* = */
  CHAR_EXCLAMATION_MARK: 33,
  /* ! */
  CHAR_FORM_FEED: 12,
  /* \f */
  CHAR_FORWARD_SLASH: 47,
  /* / */
  CHAR_GRAVE_ACCENT: 96,
  /* ` */
  CHAR_HASH: 35,
  /* # */
  CHAR_HYPHEN_MINUS: 45,
  /* - */
  CHAR_LEFT_ANGLE_BRACKET: 60,
  /* < */
  CHAR_LEFT_CURLY_BRACE: 123,
  /* { */
  CHAR_LEFT_SQUARE_BRACKET: 91,
  /* [ */
  CHAR_LINE_FEED: 10,
  /* \n */
  CHAR_NO_BREAK_SPACE: 160,
  /* \u00A0 */
  CHAR_PERCENT: 37,
  /* % */
  CHAR_PLUS: 43,
  /* + */
  CHAR_QUESTION_MARK: 63,
  /* ? */
  CHAR_RIGHT_ANGLE_BRACKET: 62,
  /* > */
  CHAR_RIGHT_CURLY_BRACE: 125,
  /* } */
  CHAR_RIGHT_SQUARE_BRACKET: 93,
  /* ] */
  CHAR_SEMICOLON: 59,
  /* ; */
  CHAR_SINGLE_QUOTE: 39,
  /* ' */
  CHAR_SPACE: 32,
  /*   */
  CHAR_TAB: 9,
  /* \t */
  CHAR_UNDERSCORE: 95,
  /* _ */
  CHAR_VERTICAL_LINE: 124,
  /* | */
  CHAR_ZERO_WIDTH_NOBREAK_SPACE: 65279,
  /* \uFEFF */
  /**
   * Create EXTGLOB_CHARS
   */
  extglobChars(t) {
    return {
      "!": { type: "negate", open: "(?:(?!(?:", close: `))${t.STAR})` },
      "?": { type: "qmark", open: "(?:", close: ")?" },
      "+": { type: "plus", open: "(?:", close: ")+" },
      "*": { type: "star", open: "(?:", close: ")*" },
      "@": { type: "at", open: "(?:", close: ")" }
    };
  },
  /**
   * Create GLOB_CHARS
   */
  globChars(t) {
    return t === !0 ? wr : mn;
  }
};
(function(t) {
  const {
    REGEX_BACKSLASH: e,
    REGEX_REMOVE_BACKSLASH: s,
    REGEX_SPECIAL_CHARS: n,
    REGEX_SPECIAL_CHARS_GLOBAL: i
  } = Re;
  t.isObject = (o) => o !== null && typeof o == "object" && !Array.isArray(o), t.hasRegexChars = (o) => n.test(o), t.isRegexChar = (o) => o.length === 1 && t.hasRegexChars(o), t.escapeRegex = (o) => o.replace(i, "\\$1"), t.toPosixSlashes = (o) => o.replace(e, "/"), t.isWindows = () => {
    if (typeof navigator < "u" && navigator.platform) {
      const o = navigator.platform.toLowerCase();
      return o === "win32" || o === "windows";
    }
    return typeof process < "u" && process.platform ? process.platform === "win32" : !1;
  }, t.removeBackslashes = (o) => o.replace(s, (r) => r === "\\" ? "" : r), t.escapeLast = (o, r, a) => {
    const u = o.lastIndexOf(r, a);
    return u === -1 ? o : o[u - 1] === "\\" ? t.escapeLast(o, r, u - 1) : `${o.slice(0, u)}\\${o.slice(u)}`;
  }, t.removePrefix = (o, r = {}) => {
    let a = o;
    return a.startsWith("./") && (a = a.slice(2), r.prefix = "./"), a;
  }, t.wrapOutput = (o, r = {}, a = {}) => {
    const u = a.contains ? "" : "^", l = a.contains ? "" : "$";
    let c = `${u}(?:${o})${l}`;
    return r.negated === !0 && (c = `(?:^(?!${c}).*$)`), c;
  }, t.basename = (o, { windows: r } = {}) => {
    const a = o.split(r ? /[\\/]/ : "/"), u = a[a.length - 1];
    return u === "" ? a[a.length - 2] : u;
  };
})(Se);
const xs = Se, {
  CHAR_ASTERISK: Ce,
  /* * */
  CHAR_AT: Sr,
  /* @ */
  CHAR_BACKWARD_SLASH: Ft,
  /* \ */
  CHAR_COMMA: Or,
  /* , */
  CHAR_DOT: $e,
  /* . */
  CHAR_EXCLAMATION_MARK: Pe,
  /* ! */
  CHAR_FORWARD_SLASH: gn,
  /* / */
  CHAR_LEFT_CURLY_BRACE: xe,
  /* { */
  CHAR_LEFT_PARENTHESES: De,
  /* ( */
  CHAR_LEFT_SQUARE_BRACKET: Rr,
  /* [ */
  CHAR_PLUS: Er,
  /* + */
  CHAR_QUESTION_MARK: Ds,
  /* ? */
  CHAR_RIGHT_CURLY_BRACE: Mr,
  /* } */
  CHAR_RIGHT_PARENTHESES: js,
  /* ) */
  CHAR_RIGHT_SQUARE_BRACKET: Ar
  /* ] */
} = Re, Ts = (t) => t === gn || t === Ft, Ls = (t) => {
  t.isPrefix !== !0 && (t.depth = t.isGlobstar ? 1 / 0 : 1);
}, Ir = (t, e) => {
  const s = e || {}, n = t.length - 1, i = s.parts === !0 || s.scanToEnd === !0, o = [], r = [], a = [];
  let u = t, l = -1, c = 0, f = 0, h = !1, p = !1, d = !1, b = !1, w = !1, A = !1, S = !1, O = !1, $ = !1, E = !1, j = 0, T, _, M = { value: "", depth: 0, isGlob: !1 };
  const y = () => l >= n, L = () => u.charCodeAt(l + 1), V = () => (T = _, u.charCodeAt(++l));
  for (; l < n; ) {
    _ = V();
    let U;
    if (_ === Ft) {
      S = M.backslashes = !0, _ = V(), _ === xe && (A = !0);
      continue;
    }
    if (A === !0 || _ === xe) {
      for (j++; y() !== !0 && (_ = V()); ) {
        if (_ === Ft) {
          S = M.backslashes = !0, V();
          continue;
        }
        if (_ === xe) {
          j++;
          continue;
        }
        if (A !== !0 && _ === $e && (_ = V()) === $e) {
          if (h = M.isBrace = !0, d = M.isGlob = !0, E = !0, i === !0)
            continue;
          break;
        }
        if (A !== !0 && _ === Or) {
          if (h = M.isBrace = !0, d = M.isGlob = !0, E = !0, i === !0)
            continue;
          break;
        }
        if (_ === Mr && (j--, j === 0)) {
          A = !1, h = M.isBrace = !0, E = !0;
          break;
        }
      }
      if (i === !0)
        continue;
      break;
    }
    if (_ === gn) {
      if (o.push(l), r.push(M), M = { value: "", depth: 0, isGlob: !1 }, E === !0)
        continue;
      if (T === $e && l === c + 1) {
        c += 2;
        continue;
      }
      f = l + 1;
      continue;
    }
    if (s.noext !== !0 && (_ === Er || _ === Sr || _ === Ce || _ === Ds || _ === Pe) === !0 && L() === De) {
      if (d = M.isGlob = !0, b = M.isExtglob = !0, E = !0, _ === Pe && l === c && ($ = !0), i === !0) {
        for (; y() !== !0 && (_ = V()); ) {
          if (_ === Ft) {
            S = M.backslashes = !0, _ = V();
            continue;
          }
          if (_ === js) {
            d = M.isGlob = !0, E = !0;
            break;
          }
        }
        continue;
      }
      break;
    }
    if (_ === Ce) {
      if (T === Ce && (w = M.isGlobstar = !0), d = M.isGlob = !0, E = !0, i === !0)
        continue;
      break;
    }
    if (_ === Ds) {
      if (d = M.isGlob = !0, E = !0, i === !0)
        continue;
      break;
    }
    if (_ === Rr) {
      for (; y() !== !0 && (U = V()); ) {
        if (U === Ft) {
          S = M.backslashes = !0, V();
          continue;
        }
        if (U === Ar) {
          p = M.isBracket = !0, d = M.isGlob = !0, E = !0;
          break;
        }
      }
      if (i === !0)
        continue;
      break;
    }
    if (s.nonegate !== !0 && _ === Pe && l === c) {
      O = M.negated = !0, c++;
      continue;
    }
    if (s.noparen !== !0 && _ === De) {
      if (d = M.isGlob = !0, i === !0) {
        for (; y() !== !0 && (_ = V()); ) {
          if (_ === De) {
            S = M.backslashes = !0, _ = V();
            continue;
          }
          if (_ === js) {
            E = !0;
            break;
          }
        }
        continue;
      }
      break;
    }
    if (d === !0) {
      if (E = !0, i === !0)
        continue;
      break;
    }
  }
  s.noext === !0 && (b = !1, d = !1);
  let H = u, m = "", g = "";
  c > 0 && (m = u.slice(0, c), u = u.slice(c), f -= c), H && d === !0 && f > 0 ? (H = u.slice(0, f), g = u.slice(f)) : d === !0 ? (H = "", g = u) : H = u, H && H !== "" && H !== "/" && H !== u && Ts(H.charCodeAt(H.length - 1)) && (H = H.slice(0, -1)), s.unescape === !0 && (g && (g = xs.removeBackslashes(g)), H && S === !0 && (H = xs.removeBackslashes(H)));
  const it = {
    prefix: m,
    input: t,
    start: c,
    base: H,
    glob: g,
    isBrace: h,
    isBracket: p,
    isGlob: d,
    isExtglob: b,
    isGlobstar: w,
    negated: O,
    negatedExtglob: $
  };
  if (s.tokens === !0 && (it.maxDepth = 0, Ts(_) || r.push(M), it.tokens = r), s.parts === !0 || s.tokens === !0) {
    let U;
    for (let F = 0; F < o.length; F++) {
      const yt = U ? U + 1 : c, rt = o[F], _t = t.slice(yt, rt);
      s.tokens && (F === 0 && c !== 0 ? (r[F].isPrefix = !0, r[F].value = m) : r[F].value = _t, Ls(r[F]), it.maxDepth += r[F].depth), (F !== 0 || _t !== "") && a.push(_t), U = rt;
    }
    if (U && U + 1 < t.length) {
      const F = t.slice(U + 1);
      a.push(F), s.tokens && (r[r.length - 1].value = F, Ls(r[r.length - 1]), it.maxDepth += r[r.length - 1].depth);
    }
    it.slashes = o, it.parts = a;
  }
  return it;
};
var Cr = Ir;
const ge = Re, pt = Se, {
  MAX_LENGTH: be,
  POSIX_REGEX_SOURCE: $r,
  REGEX_NON_SPECIAL_CHARS: Pr,
  REGEX_SPECIAL_CHARS_BACKREF: xr,
  REPLACEMENTS: bn
} = ge, Dr = (t, e) => {
  if (typeof e.expandRange == "function")
    return e.expandRange(...t, e);
  t.sort();
  const s = `[${t.join("-")}]`;
  try {
    new RegExp(s);
  } catch {
    return t.map((i) => pt.escapeRegex(i)).join("..");
  }
  return s;
}, jt = (t, e) => `Missing ${t}: "${e}" - use "\\\\${e}" to match literal characters`, ds = (t, e) => {
  if (typeof t != "string")
    throw new TypeError("Expected a string");
  t = bn[t] || t;
  const s = { ...e }, n = typeof s.maxLength == "number" ? Math.min(be, s.maxLength) : be;
  let i = t.length;
  if (i > n)
    throw new SyntaxError(`Input length: ${i}, exceeds maximum allowed length: ${n}`);
  const o = { type: "bos", value: "", output: s.prepend || "" }, r = [o], a = s.capture ? "" : "?:", u = ge.globChars(s.windows), l = ge.extglobChars(u), {
    DOT_LITERAL: c,
    PLUS_LITERAL: f,
    SLASH_LITERAL: h,
    ONE_CHAR: p,
    DOTS_SLASH: d,
    NO_DOT: b,
    NO_DOT_SLASH: w,
    NO_DOTS_SLASH: A,
    QMARK: S,
    QMARK_NO_DOT: O,
    STAR: $,
    START_ANCHOR: E
  } = u, j = (R) => `(${a}(?:(?!${E}${R.dot ? d : c}).)*?)`, T = s.dot ? "" : b, _ = s.dot ? S : O;
  let M = s.bash === !0 ? j(s) : $;
  s.capture && (M = `(${M})`), typeof s.noext == "boolean" && (s.noextglob = s.noext);
  const y = {
    input: t,
    index: -1,
    start: 0,
    dot: s.dot === !0,
    consumed: "",
    output: "",
    prefix: "",
    backtrack: !1,
    negated: !1,
    brackets: 0,
    braces: 0,
    parens: 0,
    quotes: 0,
    globstar: !1,
    tokens: r
  };
  t = pt.removePrefix(t, y), i = t.length;
  const L = [], V = [], H = [];
  let m = o, g;
  const it = () => y.index === i - 1, U = y.peek = (R = 1) => t[y.index + R], F = y.advance = () => t[++y.index] || "", yt = () => t.slice(y.index + 1), rt = (R = "", N = 0) => {
    y.consumed += R, y.index += N;
  }, _t = (R) => {
    y.output += R.output != null ? R.output : R.value, rt(R.value);
  }, vn = () => {
    let R = 1;
    for (; U() === "!" && (U(2) !== "(" || U(3) === "?"); )
      F(), y.start++, R++;
    return R % 2 === 0 ? !1 : (y.negated = !0, y.start++, !0);
  }, Zt = (R) => {
    y[R]++, H.push(R);
  }, At = (R) => {
    y[R]--, H.pop();
  }, x = (R) => {
    if (m.type === "globstar") {
      const N = y.braces > 0 && (R.type === "comma" || R.type === "brace"), v = R.extglob === !0 || L.length && (R.type === "pipe" || R.type === "paren");
      R.type !== "slash" && R.type !== "paren" && !N && !v && (y.output = y.output.slice(0, -m.output.length), m.type = "star", m.value = "*", m.output = M, y.output += m.output);
    }
    if (L.length && R.type !== "paren" && (L[L.length - 1].inner += R.value), (R.value || R.output) && _t(R), m && m.type === "text" && R.type === "text") {
      m.output = (m.output || m.value) + R.value, m.value += R.value;
      return;
    }
    R.prev = m, r.push(R), m = R;
  }, te = (R, N) => {
    const v = { ...l[N], conditions: 1, inner: "" };
    v.prev = m, v.parens = y.parens, v.output = y.output;
    const P = (s.capture ? "(" : "") + v.open;
    Zt("parens"), x({ type: R, value: N, output: y.output ? "" : p }), x({ type: "paren", extglob: !0, value: F(), output: P }), L.push(v);
  }, Sn = (R) => {
    let N = R.close + (s.capture ? ")" : ""), v;
    if (R.type === "negate") {
      let P = M;
      if (R.inner && R.inner.length > 1 && R.inner.includes("/") && (P = j(s)), (P !== M || it() || /^\)+$/.test(yt())) && (N = R.close = `)$))${P}`), R.inner.includes("*") && (v = yt()) && /^\.[^\\/.]+$/.test(v)) {
        const B = ds(v, { ...e, fastpaths: !1 }).output;
        N = R.close = `)${B})${P})`;
      }
      R.prev.type === "bos" && (y.negatedExtglob = !0);
    }
    x({ type: "paren", extglob: !0, value: g, output: N }), At("parens");
  };
  if (s.fastpaths !== !1 && !/(^[*!]|[/()[\]{}"])/.test(t)) {
    let R = !1, N = t.replace(xr, (v, P, B, X, Q, Ee) => X === "\\" ? (R = !0, v) : X === "?" ? P ? P + X + (Q ? S.repeat(Q.length) : "") : Ee === 0 ? _ + (Q ? S.repeat(Q.length) : "") : S.repeat(B.length) : X === "." ? c.repeat(B.length) : X === "*" ? P ? P + X + (Q ? M : "") : M : P ? v : `\\${v}`);
    return R === !0 && (s.unescape === !0 ? N = N.replace(/\\/g, "") : N = N.replace(/\\+/g, (v) => v.length % 2 === 0 ? "\\\\" : v ? "\\" : "")), N === t && s.contains === !0 ? (y.output = t, y) : (y.output = pt.wrapOutput(N, y, e), y);
  }
  for (; !it(); ) {
    if (g = F(), g === "\0")
      continue;
    if (g === "\\") {
      const v = U();
      if (v === "/" && s.bash !== !0 || v === "." || v === ";")
        continue;
      if (!v) {
        g += "\\", x({ type: "text", value: g });
        continue;
      }
      const P = /^\\+/.exec(yt());
      let B = 0;
      if (P && P[0].length > 2 && (B = P[0].length, y.index += B, B % 2 !== 0 && (g += "\\")), s.unescape === !0 ? g = F() : g += F(), y.brackets === 0) {
        x({ type: "text", value: g });
        continue;
      }
    }
    if (y.brackets > 0 && (g !== "]" || m.value === "[" || m.value === "[^")) {
      if (s.posix !== !1 && g === ":") {
        const v = m.value.slice(1);
        if (v.includes("[") && (m.posix = !0, v.includes(":"))) {
          const P = m.value.lastIndexOf("["), B = m.value.slice(0, P), X = m.value.slice(P + 2), Q = $r[X];
          if (Q) {
            m.value = B + Q, y.backtrack = !0, F(), !o.output && r.indexOf(m) === 1 && (o.output = p);
            continue;
          }
        }
      }
      (g === "[" && U() !== ":" || g === "-" && U() === "]") && (g = `\\${g}`), g === "]" && (m.value === "[" || m.value === "[^") && (g = `\\${g}`), s.posix === !0 && g === "!" && m.value === "[" && (g = "^"), m.value += g, _t({ value: g });
      continue;
    }
    if (y.quotes === 1 && g !== '"') {
      g = pt.escapeRegex(g), m.value += g, _t({ value: g });
      continue;
    }
    if (g === '"') {
      y.quotes = y.quotes === 1 ? 0 : 1, s.keepQuotes === !0 && x({ type: "text", value: g });
      continue;
    }
    if (g === "(") {
      Zt("parens"), x({ type: "paren", value: g });
      continue;
    }
    if (g === ")") {
      if (y.parens === 0 && s.strictBrackets === !0)
        throw new SyntaxError(jt("opening", "("));
      const v = L[L.length - 1];
      if (v && y.parens === v.parens + 1) {
        Sn(L.pop());
        continue;
      }
      x({ type: "paren", value: g, output: y.parens ? ")" : "\\)" }), At("parens");
      continue;
    }
    if (g === "[") {
      if (s.nobracket === !0 || !yt().includes("]")) {
        if (s.nobracket !== !0 && s.strictBrackets === !0)
          throw new SyntaxError(jt("closing", "]"));
        g = `\\${g}`;
      } else
        Zt("brackets");
      x({ type: "bracket", value: g });
      continue;
    }
    if (g === "]") {
      if (s.nobracket === !0 || m && m.type === "bracket" && m.value.length === 1) {
        x({ type: "text", value: g, output: `\\${g}` });
        continue;
      }
      if (y.brackets === 0) {
        if (s.strictBrackets === !0)
          throw new SyntaxError(jt("opening", "["));
        x({ type: "text", value: g, output: `\\${g}` });
        continue;
      }
      At("brackets");
      const v = m.value.slice(1);
      if (m.posix !== !0 && v[0] === "^" && !v.includes("/") && (g = `/${g}`), m.value += g, _t({ value: g }), s.literalBrackets === !1 || pt.hasRegexChars(v))
        continue;
      const P = pt.escapeRegex(m.value);
      if (y.output = y.output.slice(0, -m.value.length), s.literalBrackets === !0) {
        y.output += P, m.value = P;
        continue;
      }
      m.value = `(${a}${P}|${m.value})`, y.output += m.value;
      continue;
    }
    if (g === "{" && s.nobrace !== !0) {
      Zt("braces");
      const v = {
        type: "brace",
        value: g,
        output: "(",
        outputIndex: y.output.length,
        tokensIndex: y.tokens.length
      };
      V.push(v), x(v);
      continue;
    }
    if (g === "}") {
      const v = V[V.length - 1];
      if (s.nobrace === !0 || !v) {
        x({ type: "text", value: g, output: g });
        continue;
      }
      let P = ")";
      if (v.dots === !0) {
        const B = r.slice(), X = [];
        for (let Q = B.length - 1; Q >= 0 && (r.pop(), B[Q].type !== "brace"); Q--)
          B[Q].type !== "dots" && X.unshift(B[Q].value);
        P = Dr(X, s), y.backtrack = !0;
      }
      if (v.comma !== !0 && v.dots !== !0) {
        const B = y.output.slice(0, v.outputIndex), X = y.tokens.slice(v.tokensIndex);
        v.value = v.output = "\\{", g = P = "\\}", y.output = B;
        for (const Q of X)
          y.output += Q.output || Q.value;
      }
      x({ type: "brace", value: g, output: P }), At("braces"), V.pop();
      continue;
    }
    if (g === "|") {
      L.length > 0 && L[L.length - 1].conditions++, x({ type: "text", value: g });
      continue;
    }
    if (g === ",") {
      let v = g;
      const P = V[V.length - 1];
      P && H[H.length - 1] === "braces" && (P.comma = !0, v = "|"), x({ type: "comma", value: g, output: v });
      continue;
    }
    if (g === "/") {
      if (m.type === "dot" && y.index === y.start + 1) {
        y.start = y.index + 1, y.consumed = "", y.output = "", r.pop(), m = o;
        continue;
      }
      x({ type: "slash", value: g, output: h });
      continue;
    }
    if (g === ".") {
      if (y.braces > 0 && m.type === "dot") {
        m.value === "." && (m.output = c);
        const v = V[V.length - 1];
        m.type = "dots", m.output += g, m.value += g, v.dots = !0;
        continue;
      }
      if (y.braces + y.parens === 0 && m.type !== "bos" && m.type !== "slash") {
        x({ type: "text", value: g, output: c });
        continue;
      }
      x({ type: "dot", value: g, output: c });
      continue;
    }
    if (g === "?") {
      if (!(m && m.value === "(") && s.noextglob !== !0 && U() === "(" && U(2) !== "?") {
        te("qmark", g);
        continue;
      }
      if (m && m.type === "paren") {
        const P = U();
        let B = g;
        (m.value === "(" && !/[!=<:]/.test(P) || P === "<" && !/<([!=]|\w+>)/.test(yt())) && (B = `\\${g}`), x({ type: "text", value: g, output: B });
        continue;
      }
      if (s.dot !== !0 && (m.type === "slash" || m.type === "bos")) {
        x({ type: "qmark", value: g, output: O });
        continue;
      }
      x({ type: "qmark", value: g, output: S });
      continue;
    }
    if (g === "!") {
      if (s.noextglob !== !0 && U() === "(" && (U(2) !== "?" || !/[!=<:]/.test(U(3)))) {
        te("negate", g);
        continue;
      }
      if (s.nonegate !== !0 && y.index === 0) {
        vn();
        continue;
      }
    }
    if (g === "+") {
      if (s.noextglob !== !0 && U() === "(" && U(2) !== "?") {
        te("plus", g);
        continue;
      }
      if (m && m.value === "(" || s.regex === !1) {
        x({ type: "plus", value: g, output: f });
        continue;
      }
      if (m && (m.type === "bracket" || m.type === "paren" || m.type === "brace") || y.parens > 0) {
        x({ type: "plus", value: g });
        continue;
      }
      x({ type: "plus", value: f });
      continue;
    }
    if (g === "@") {
      if (s.noextglob !== !0 && U() === "(" && U(2) !== "?") {
        x({ type: "at", extglob: !0, value: g, output: "" });
        continue;
      }
      x({ type: "text", value: g });
      continue;
    }
    if (g !== "*") {
      (g === "$" || g === "^") && (g = `\\${g}`);
      const v = Pr.exec(yt());
      v && (g += v[0], y.index += v[0].length), x({ type: "text", value: g });
      continue;
    }
    if (m && (m.type === "globstar" || m.star === !0)) {
      m.type = "star", m.star = !0, m.value += g, m.output = M, y.backtrack = !0, y.globstar = !0, rt(g);
      continue;
    }
    let R = yt();
    if (s.noextglob !== !0 && /^\([^?]/.test(R)) {
      te("star", g);
      continue;
    }
    if (m.type === "star") {
      if (s.noglobstar === !0) {
        rt(g);
        continue;
      }
      const v = m.prev, P = v.prev, B = v.type === "slash" || v.type === "bos", X = P && (P.type === "star" || P.type === "globstar");
      if (s.bash === !0 && (!B || R[0] && R[0] !== "/")) {
        x({ type: "star", value: g, output: "" });
        continue;
      }
      const Q = y.braces > 0 && (v.type === "comma" || v.type === "brace"), Ee = L.length && (v.type === "pipe" || v.type === "paren");
      if (!B && v.type !== "paren" && !Q && !Ee) {
        x({ type: "star", value: g, output: "" });
        continue;
      }
      for (; R.slice(0, 3) === "/**"; ) {
        const ee = t[y.index + 4];
        if (ee && ee !== "/")
          break;
        R = R.slice(3), rt("/**", 3);
      }
      if (v.type === "bos" && it()) {
        m.type = "globstar", m.value += g, m.output = j(s), y.output = m.output, y.globstar = !0, rt(g);
        continue;
      }
      if (v.type === "slash" && v.prev.type !== "bos" && !X && it()) {
        y.output = y.output.slice(0, -(v.output + m.output).length), v.output = `(?:${v.output}`, m.type = "globstar", m.output = j(s) + (s.strictSlashes ? ")" : "|$)"), m.value += g, y.globstar = !0, y.output += v.output + m.output, rt(g);
        continue;
      }
      if (v.type === "slash" && v.prev.type !== "bos" && R[0] === "/") {
        const ee = R[1] !== void 0 ? "|$" : "";
        y.output = y.output.slice(0, -(v.output + m.output).length), v.output = `(?:${v.output}`, m.type = "globstar", m.output = `${j(s)}${h}|${h}${ee})`, m.value += g, y.output += v.output + m.output, y.globstar = !0, rt(g + F()), x({ type: "slash", value: "/", output: "" });
        continue;
      }
      if (v.type === "bos" && R[0] === "/") {
        m.type = "globstar", m.value += g, m.output = `(?:^|${h}|${j(s)}${h})`, y.output = m.output, y.globstar = !0, rt(g + F()), x({ type: "slash", value: "/", output: "" });
        continue;
      }
      y.output = y.output.slice(0, -m.output.length), m.type = "globstar", m.output = j(s), m.value += g, y.output += m.output, y.globstar = !0, rt(g);
      continue;
    }
    const N = { type: "star", value: g, output: M };
    if (s.bash === !0) {
      N.output = ".*?", (m.type === "bos" || m.type === "slash") && (N.output = T + N.output), x(N);
      continue;
    }
    if (m && (m.type === "bracket" || m.type === "paren") && s.regex === !0) {
      N.output = g, x(N);
      continue;
    }
    (y.index === y.start || m.type === "slash" || m.type === "dot") && (m.type === "dot" ? (y.output += w, m.output += w) : s.dot === !0 ? (y.output += A, m.output += A) : (y.output += T, m.output += T), U() !== "*" && (y.output += p, m.output += p)), x(N);
  }
  for (; y.brackets > 0; ) {
    if (s.strictBrackets === !0)
      throw new SyntaxError(jt("closing", "]"));
    y.output = pt.escapeLast(y.output, "["), At("brackets");
  }
  for (; y.parens > 0; ) {
    if (s.strictBrackets === !0)
      throw new SyntaxError(jt("closing", ")"));
    y.output = pt.escapeLast(y.output, "("), At("parens");
  }
  for (; y.braces > 0; ) {
    if (s.strictBrackets === !0)
      throw new SyntaxError(jt("closing", "}"));
    y.output = pt.escapeLast(y.output, "{"), At("braces");
  }
  if (s.strictSlashes !== !0 && (m.type === "star" || m.type === "bracket") && x({ type: "maybe_slash", value: "", output: `${h}?` }), y.backtrack === !0) {
    y.output = "";
    for (const R of y.tokens)
      y.output += R.output != null ? R.output : R.value, R.suffix && (y.output += R.suffix);
  }
  return y;
};
ds.fastpaths = (t, e) => {
  const s = { ...e }, n = typeof s.maxLength == "number" ? Math.min(be, s.maxLength) : be, i = t.length;
  if (i > n)
    throw new SyntaxError(`Input length: ${i}, exceeds maximum allowed length: ${n}`);
  t = bn[t] || t;
  const {
    DOT_LITERAL: o,
    SLASH_LITERAL: r,
    ONE_CHAR: a,
    DOTS_SLASH: u,
    NO_DOT: l,
    NO_DOTS: c,
    NO_DOTS_SLASH: f,
    STAR: h,
    START_ANCHOR: p
  } = ge.globChars(s.windows), d = s.dot ? c : l, b = s.dot ? f : l, w = s.capture ? "" : "?:", A = { negated: !1, prefix: "" };
  let S = s.bash === !0 ? ".*?" : h;
  s.capture && (S = `(${S})`);
  const O = (T) => T.noglobstar === !0 ? S : `(${w}(?:(?!${p}${T.dot ? u : o}).)*?)`, $ = (T) => {
    switch (T) {
      case "*":
        return `${d}${a}${S}`;
      case ".*":
        return `${o}${a}${S}`;
      case "*.*":
        return `${d}${S}${o}${a}${S}`;
      case "*/*":
        return `${d}${S}${r}${a}${b}${S}`;
      case "**":
        return d + O(s);
      case "**/*":
        return `(?:${d}${O(s)}${r})?${b}${a}${S}`;
      case "**/*.*":
        return `(?:${d}${O(s)}${r})?${b}${S}${o}${a}${S}`;
      case "**/.*":
        return `(?:${d}${O(s)}${r})?${o}${a}${S}`;
      default: {
        const _ = /^(.*?)\.(\w+)$/.exec(T);
        if (!_)
          return;
        const M = $(_[1]);
        return M ? M + o + _[2] : void 0;
      }
    }
  }, E = pt.removePrefix(t, A);
  let j = $(E);
  return j && s.strictSlashes !== !0 && (j += `${r}?`), j;
};
var jr = ds;
const Tr = Cr, We = jr, _n = Se, Lr = Re, kr = (t) => t && typeof t == "object" && !Array.isArray(t), G = (t, e, s = !1) => {
  if (Array.isArray(t)) {
    const c = t.map((h) => G(h, e, s));
    return (h) => {
      for (const p of c) {
        const d = p(h);
        if (d)
          return d;
      }
      return !1;
    };
  }
  const n = kr(t) && t.tokens && t.input;
  if (t === "" || typeof t != "string" && !n)
    throw new TypeError("Expected pattern to be a non-empty string");
  const i = e || {}, o = i.windows, r = n ? G.compileRe(t, e) : G.makeRe(t, e, !1, !0), a = r.state;
  delete r.state;
  let u = () => !1;
  if (i.ignore) {
    const c = { ...e, ignore: null, onMatch: null, onResult: null };
    u = G(i.ignore, c, s);
  }
  const l = (c, f = !1) => {
    const { isMatch: h, match: p, output: d } = G.test(c, r, e, { glob: t, posix: o }), b = { glob: t, state: a, regex: r, posix: o, input: c, output: d, match: p, isMatch: h };
    return typeof i.onResult == "function" && i.onResult(b), h === !1 ? (b.isMatch = !1, f ? b : !1) : u(c) ? (typeof i.onIgnore == "function" && i.onIgnore(b), b.isMatch = !1, f ? b : !1) : (typeof i.onMatch == "function" && i.onMatch(b), f ? b : !0);
  };
  return s && (l.state = a), l;
};
G.test = (t, e, s, { glob: n, posix: i } = {}) => {
  if (typeof t != "string")
    throw new TypeError("Expected input to be a string");
  if (t === "")
    return { isMatch: !1, output: "" };
  const o = s || {}, r = o.format || (i ? _n.toPosixSlashes : null);
  let a = t === n, u = a && r ? r(t) : t;
  return a === !1 && (u = r ? r(t) : t, a = u === n), (a === !1 || o.capture === !0) && (o.matchBase === !0 || o.basename === !0 ? a = G.matchBase(t, e, s, i) : a = e.exec(u)), { isMatch: !!a, match: a, output: u };
};
G.matchBase = (t, e, s) => (e instanceof RegExp ? e : G.makeRe(e, s)).test(_n.basename(t));
G.isMatch = (t, e, s) => G(e, s)(t);
G.parse = (t, e) => Array.isArray(t) ? t.map((s) => G.parse(s, e)) : We(t, { ...e, fastpaths: !1 });
G.scan = (t, e) => Tr(t, e);
G.compileRe = (t, e, s = !1, n = !1) => {
  if (s === !0)
    return t.output;
  const i = e || {}, o = i.contains ? "" : "^", r = i.contains ? "" : "$";
  let a = `${o}(?:${t.output})${r}`;
  t && t.negated === !0 && (a = `^(?!${a}).*$`);
  const u = G.toRegex(a, e);
  return n === !0 && (u.state = t), u;
};
G.makeRe = (t, e = {}, s = !1, n = !1) => {
  if (!t || typeof t != "string")
    throw new TypeError("Expected a non-empty string");
  let i = { negated: !1, fastpaths: !0 };
  return e.fastpaths !== !1 && (t[0] === "." || t[0] === "*") && (i.output = We.fastpaths(t, e)), i.output || (i = We(t, e)), G.compileRe(i, e, s, n);
};
G.toRegex = (t, e) => {
  try {
    const s = e || {};
    return new RegExp(t, s.flags || (s.nocase ? "i" : ""));
  } catch (s) {
    if (e && e.debug === !0)
      throw s;
    return /$^/;
  }
};
G.constants = Lr;
var Ur = G, Hr = Ur;
const Nr = /* @__PURE__ */ Je(Hr), wn = Ge(fetch), Fr = async (t, e) => {
  const s = new URL(t);
  s.pathname = s.pathname + (s.pathname.endsWith("/") ? "metapage.json" : "/metapage.json");
  const i = await (await wn(s.href, {
    redirect: "follow",
    retries: 3,
    retryDelay: 1e3
  })).json();
  return await Gs(i, e || we);
}, Br = async (t, e) => {
  if (t.startsWith("data:") || t.startsWith("https://docs.google.com"))
    return;
  const s = new URL(t);
  if (s.origin.endsWith(".notion.site"))
    return;
  let n = cs(s, "definition");
  if (n)
    return He(n);
  s.hash = "", s.pathname.endsWith("metaframe.json") || (s.pathname = s.pathname + (s.pathname.endsWith("/") ? "metaframe.json" : "/metaframe.json"));
  try {
    const i = await wn(s.href, {
      redirect: "follow",
      retries: 3,
      retryDelay: 1e3
    });
    if (i.status !== 200)
      return;
    const o = await i.json();
    return await Qs(o, e || _e);
  } catch (i) {
    console.error(`Error fetching metaframe definition from ${s.href.substring(0, 200)}`, i);
    return;
  }
}, ho = (t) => t ? !(t != null && t.inputs && Object.keys(t.inputs).length > 0 || t != null && t.outputs && Object.keys(t.outputs).length > 0 || t != null && t.allow || t != null && t.metadata && Object.keys(t.metadata).length > 0) : !0;
class zr extends as.EventEmitter {
  constructor(e, s, n, i, o, r = !1) {
    if (super(), this.inputs = {}, this.outputs = {}, this._disposables = [], this._rpcListeners = [], this._loaded = !1, this._onLoaded = [], this._sendInputsAfterRegistration = !1, this._cachedEventInputsUpdate = {
      iframeId: void 0,
      inputs: void 0
    }, this._cachedEventOutputsUpdate = {
      iframeId: null,
      inputs: null
    }, !s.startsWith("data:") && !s.startsWith("http")) {
      for (; s.startsWith("/"); )
        s = s.substring(1);
      s = window.location.protocol + "//" + window.location.hostname + (window.location.port && window.location.port != "" ? ":" + window.location.port : "") + "/" + s;
    }
    if (this.url = s, this._metapage = e, this._debug = r, r && !s.startsWith("data:")) {
      var a = new URL(this.url);
      a.searchParams.set(Gt.mp_debug, "true"), this.url = a.href;
    }
    this.id = n, this._parentId = i, this._color = pn(this.id), this._consoleBackgroundColor = o, this._iframe = document.createElement("iframe"), this._iframe.name = this.id;
    const u = this;
    this.iframe = new Promise((l) => {
      qt().then(async () => {
        var c, f, h, p;
        if (u._iframe) {
          if ((p = (h = (f = (c = this._metapage) == null ? void 0 : c._definition) == null ? void 0 : f.metaframes) == null ? void 0 : h[this.id]) != null && p.allow)
            u._iframe.allow = this._metapage._definition.metaframes[this.id].allow, this._debug && this.log(`mf allow=${u._iframe.allow} from this._metapage?._definition`);
          else {
            let d = cs(this.url, "definition");
            if (d = d && (d != null && d.version) ? await He(d) : void 0, !u._iframe)
              return;
            if (d != null && d.allow)
              u._iframe.allow = d.allow;
            else {
              let b = await u.getDefinition();
              if (this._debug && this.log(`mf metaframeDef=${JSON.stringify(b)}`), b = b && (b != null && b.version) ? await He(b) : void 0, this._debug && this.log(`mf metaframeDef=${JSON.stringify(b)}`), !u._iframe)
                return;
              b && b.allow && (u._iframe.allow = b.allow);
            }
          }
          this._debug && this.log(`mf allow=${u._iframe.allow} from ${this.url}`), u._iframe.src = this.url, l(u._iframe);
        }
      });
    }), this.ack = this.ack.bind(this), this.dispose = this.dispose.bind(this), this.getDefinition = this.getDefinition.bind(this), this.getDefinitionUrl = this.getDefinitionUrl.bind(this), this.log = this.log.bind(this), this.logInternal = this.logInternal.bind(this), this.onInput = this.onInput.bind(this), this.onInputs = this.onInputs.bind(this), this.onOutput = this.onOutput.bind(this), this.onOutputs = this.onOutputs.bind(this), this.register = this.register.bind(this), this.registered = this.registered.bind(this), this.sendInputs = this.sendInputs.bind(this), this.sendOrBufferPostMessage = this.sendOrBufferPostMessage.bind(this), this.sendRpc = this.sendRpc.bind(this), this.sendRpcInternal = this.sendRpcInternal.bind(this), this.setInput = this.setInput.bind(this), this.setInputs = this.setInputs.bind(this), this.setMetapage = this.setMetapage.bind(this), this.setOutput = this.setOutput.bind(this), this.setOutputs = this.setOutputs.bind(this), this.addListenerReturnDisposer = this.addListenerReturnDisposer.bind(this), this.isDisposed = this.isDisposed.bind(this);
  }
  addListenerReturnDisposer(e, s) {
    return super.addListener(e, s), () => {
      super.removeListener(e, s);
    };
  }
  setMetapage(e) {
    return this._metapage = e, this;
  }
  getDefinitionUrl() {
    var e = new URL(this.url);
    return e.pathname = e.pathname + (e.pathname.endsWith("/") ? "metaframe.json" : "/metaframe.json"), e.href;
  }
  async getDefinition() {
    if (this._definition)
      return this._definition;
    try {
      const s = await Br(this.url);
      if (s)
        return this._definition = s, this._definition;
    } catch (s) {
      var e = this.getDefinitionUrl();
      this.emit(I.Warning, `Failed to fetch or convert: ${e}
Error: ${s != null && s.message ? s == null ? void 0 : s.message : s == null ? void 0 : s.toString()}`);
    }
  }
  setInput(e, s) {
    console.assert(!!e);
    var n = {};
    n[e] = s, this.setInputs(n);
  }
  setInputs(e) {
    this.log({ m: "MetapageIFrameRpcClient", inputs: e });
    const s = e;
    if (this.inputs = me(this.inputs, e), this.inputs === s)
      return this;
    if (this._loaded || (this._sendInputsAfterRegistration = !0), this._iframe.parentNode && this._loaded && this.sendInputs(e), this.emit(I.Inputs, this.inputs), this._metapage.listenerCount(I.Inputs) > 0) {
      var n = {};
      n[this.id] = e, this._metapage.emit(I.Inputs, n);
    }
    return this;
  }
  setOutput(e, s) {
    console.assert(!!e);
    var n = {};
    n[e] = s, this.setOutputs(n);
  }
  setOutputs(e) {
    const s = e;
    if (this.outputs = me(this.outputs, e), this.outputs === s)
      return this;
    if (this.emit(I.Outputs, e), this._metapage.listenerCount(I.Outputs) > 0) {
      var n = {};
      n[this.id] = e, this._metapage.emit(I.Outputs, n);
    }
  }
  onInputs(e) {
    return this.addListenerReturnDisposer(I.Inputs, e);
  }
  onInput(e, s) {
    var n = function(i) {
      i.hasOwnProperty(e) && s(i[e]);
    };
    return this.addListenerReturnDisposer(I.Inputs, n);
  }
  onOutputs(e) {
    return this.addListenerReturnDisposer(I.Outputs, e);
  }
  onOutput(e, s) {
    var n = function(i) {
      i.hasOwnProperty(e) && s(i[e]);
    };
    return this.addListenerReturnDisposer(I.Outputs, n);
  }
  isDisposed() {
    return this.inputs === void 0;
  }
  dispose() {
    for (super.removeAllListeners(); this._disposables && this._disposables.length > 0; ) {
      const e = this._disposables.pop();
      e && e();
    }
    this._rpcListeners = void 0, this.inputs = void 0, this.outputs = void 0, this._iframe && this._iframe.parentNode && this._iframe.parentNode.removeChild(this._iframe), this._iframe = void 0, this._bufferMessages = void 0, this._bufferTimeout && (window.clearInterval(this._bufferTimeout), this._bufferTimeout = void 0), this._metapage = void 0;
  }
  register() {
    var e = {
      iframeId: this.id,
      parentId: this._parentId,
      state: {
        inputs: this.inputs
      },
      version: ks
    };
    this.sendRpcInternal(Ot.SetupIframeServerResponse, e);
  }
  registered(e) {
    if (this.log({ m: "MetapageIFrameRpcClient.registered", inputs: this.inputs }), !this._loaded) {
      if (!e)
        throw "Cannot register without a version";
      for (this.version = e, this._loaded = !0; this._onLoaded && this._onLoaded.length > 0; )
        this._onLoaded.pop()();
      this._sendInputsAfterRegistration && this.sendInputs(this.inputs);
    }
  }
  async sendInputs(e) {
    e && (e = await ve(e), !this.isDisposed() && this.sendRpc(Ot.InputsUpdate, {
      inputs: e,
      parentId: this._parentId
    }));
  }
  sendRpc(e, s) {
    var n, i;
    if ((n = this == null ? void 0 : this._iframe) != null && n.parentNode && this._loaded)
      this.sendRpcInternal(e, s);
    else {
      (i = this == null ? void 0 : this._metapage) == null || i.error("sending rpc later");
      const o = this;
      this == null || this._onLoaded.push(() => {
        o.sendRpcInternal(e, s);
      });
    }
  }
  ack(e) {
    if (this._debug) {
      this.log("⚒ ⚒ ⚒ sending ack from client to frame");
      var s = {
        message: e
      };
      this.sendRpc(Ot.MessageAck, s);
    }
  }
  log(e) {
    this._debug && this.logInternal(e);
  }
  logInternal(e) {
    let s;
    typeof e == "string" ? s = e : typeof e == "string" ? s = e + "" : s = JSON.stringify(e), fs(`Metapage[${this._parentId}] Metaframe[${this.id}] ${s}`, this._color, this._consoleBackgroundColor);
  }
  sendRpcInternal(e, s) {
    const n = {
      id: "_",
      iframeId: this.id,
      jsonrpc: "2.0",
      method: e,
      params: s,
      parentId: this._parentId
    };
    this._iframe ? this.sendOrBufferPostMessage(n) : this._metapage ? this._metapage.error(`Cannot send to child iframe messageJSON=${JSON.stringify(n).substring(0, 200)}`) : console.error(`Cannot send to child iframe messageJSON=${JSON.stringify(n).substring(0, 200)}`);
  }
  sendOrBufferPostMessage(e) {
    if (this._iframe && this._iframe.contentWindow)
      this._iframe.contentWindow.postMessage(e, this.url);
    else if (this._bufferMessages)
      this._bufferMessages.push(e);
    else {
      this._bufferMessages = [e];
      const s = this;
      this._bufferTimeout = window.setInterval(function() {
        s._iframe && s._iframe.contentWindow && (s._bufferMessages.forEach((n) => s._iframe.contentWindow.postMessage(n, s.url)), window.clearInterval(s._bufferTimeout), s._bufferTimeout = void 0, s._bufferMessages = void 0);
      }, 0);
    }
  }
}
const wt = C({
  metaframes: {
    inputs: {},
    outputs: {}
  }
}, (t) => t), yo = (t) => vt(t), Vr = (t, e) => !!(!e || e === "**" || t === e || Nr.isMatch(t, e)), Wr = "bcbcbc";
class tt extends or {
  static async from(e, s) {
    if (e == null)
      throw "Metapage definition cannot be null";
    if (typeof e == "string")
      try {
        e = JSON.parse(e);
      } catch {
        throw "Cannot parse into JSON:\n${metaPageDef}";
      }
    var n = new tt();
    return n.debug = (s == null ? void 0 : s.debug) || !1, n.setDefinition(e);
  }
  constructor(e) {
    super(), this._state = wt, this._metaframes = C({}, (s) => s), this.debug = Ve(), this._originalSecretHashParams = {}, this._originalSecretQueryParams = {}, this._injectedSecrets = {}, this._injectedQuerySecrets = {}, this._internalReceivedMessageCounter = 0, this._cachedInputLookupMap = C({}, (s) => s), this._inputMap = {}, this._id = e && e.id ? e.id : ar(), this._consoleBackgroundColor = e && e.color ? e.color : Wr, this.addPipe = this.addPipe.bind(this), this.dispose = this.dispose.bind(this), this.addMetaframe = this.addMetaframe.bind(this), this.getInputsFromOutput = this.getInputsFromOutput.bind(this), this.getMetaframe = this.getMetaframe.bind(this), this.getMetaframeIds = this.getMetaframeIds.bind(this), this.getMetaframe = this.getMetaframe.bind(this), this.getMetaframes = this.getMetaframes.bind(this), this.getState = this.getState.bind(this), this.getStateMetaframes = this.getStateMetaframes.bind(this), this.isValidJSONRpcMessage = this.isValidJSONRpcMessage.bind(this), this.log = this.log.bind(this), this.logInternal = this.logInternal.bind(this), this.metaframeIds = this.metaframeIds.bind(this), this.metaframes = this.metaframes.bind(this), this.onMessage = this.onMessage.bind(this), this.onMessageJsonRpc = this.onMessageJsonRpc.bind(this), this.removeAll = this.removeAll.bind(this), this.removeMetaframe = this.removeMetaframe.bind(this), this.setDebugFromUrlParams = this.setDebugFromUrlParams.bind(this), this.setDefinition = this.setDefinition.bind(this), this.updateDefinition = this.updateDefinition.bind(this), this.setInput = this.setInput.bind(this), this.setInputs = this.setInputs.bind(this), this.setOutputs = this.setOutputs.bind(this), this.onInputs = this.onInputs.bind(this), this.onOutputs = this.onOutputs.bind(this), this.onState = this.onState.bind(this), this.setMetaframeOutputs = this.setMetaframeOutputs.bind(this), this.setInputStateOnlyMetaframeInputValue = this.setInputStateOnlyMetaframeInputValue.bind(this), this.setInputStateOnlyMetaframeInputMap = this.setInputStateOnlyMetaframeInputMap.bind(this), this.setInputStateOnlyMetapageInstanceInputs = this.setInputStateOnlyMetapageInstanceInputs.bind(this), this.setOutputStateOnlyMetaframeInputValue = this.setOutputStateOnlyMetaframeInputValue.bind(this), this.setOutputStateOnlyMetaframeInputMap = this.setOutputStateOnlyMetaframeInputMap.bind(this), this.setOutputStateOnlyMetapageInstanceInputs = this.setOutputStateOnlyMetapageInstanceInputs.bind(this), this.setMetadata = this.setMetadata.bind(this), this.setMetaframeClientInputAndSentClientEvent = this.setMetaframeClientInputAndSentClientEvent.bind(this), this.setState = this.setState.bind(this), this.isDisposed = this.isDisposed.bind(this), this._emitDefinitionEvent = this._emitDefinitionEvent.bind(this), this._emitDefinitionUpdateEvent = this._emitDefinitionUpdateEvent.bind(this), qt().then(() => {
      this.isDisposed() || (window.addEventListener("message", this.onMessage), this.log("Initialized"));
    });
  }
  isDisposed() {
    return this._metaframes === void 0;
  }
  addListenerReturnDisposer(e, s) {
    return super.addListener(e, s), () => {
      super.removeListener(e, s);
    };
  }
  onInputs(e) {
    return this.addListenerReturnDisposer(I.Inputs, e);
  }
  onOutputs(e) {
    return this.addListenerReturnDisposer(I.Outputs, e);
  }
  onState(e) {
    return this.addListenerReturnDisposer(I.State, e);
  }
  setDebugFromUrlParams() {
    const e = new URL(window.location.href);
    return this.debug = ["debug", "mp_debug"].reduce((s, n) => s || e.searchParams.get(n) === "true" || e.searchParams.get(n) === "1", !1), this;
  }
  getState() {
    return this._state;
  }
  setState(e) {
    this._state = C(e, (s) => s), this.getMetaframeIds().forEach((s) => {
      var n, i;
      (n = this.getMetaframe(s)) == null || n.setInputs(this._state.metaframes.inputs[s]), (i = this.getMetaframe(s)) == null || i.setOutputs(this._state.metaframes.outputs[s]);
    }), this.listenerCount(I.State) > 0 && wt !== this._state && this.emit(I.State, this._state);
  }
  getStateMetaframes() {
    return this._state.metaframes;
  }
  getDefinition() {
    return this._getDefinitionWithoutSecrets();
  }
  injectSecrets(e) {
    e != null && e.frameSecrets && Object.entries(e.frameSecrets).forEach(([s, n]) => {
      var a, u;
      const i = this._metaframes[s];
      if (!i) {
        this.log(`Warning: Cannot inject secrets for unknown metaframe: ${s}`);
        return;
      }
      if (i.url.startsWith("data:"))
        return;
      this._injectedSecrets[s] || (this._injectedSecrets[s] = {}), this._injectedQuerySecrets[s] || (this._injectedQuerySecrets[s] = {}), this._originalSecretHashParams[s] || (this._originalSecretHashParams[s] = {}), this._originalSecretQueryParams[s] || (this._originalSecretQueryParams[s] = {});
      const o = new URL(i.url);
      n.hashParams && Object.entries(n.hashParams).forEach(([l, c]) => {
        if (!(l in this._originalSecretHashParams[s])) {
          const f = ze(o, l);
          this._originalSecretHashParams[s][l] = f || void 0;
        }
        this._injectedSecrets[s][l] = c;
      }), n.queryParams && Object.entries(n.queryParams).forEach(([l, c]) => {
        if (!(l in this._originalSecretQueryParams[s])) {
          const f = o.searchParams.get(l);
          this._originalSecretQueryParams[s][l] = f || void 0;
        }
        this._injectedQuerySecrets[s][l] = c;
      });
      let r = new URL(i.url);
      Object.entries(this._injectedSecrets[s]).forEach(([l, c]) => {
        r = new URL(kt(r.href, l, c));
      }), Object.entries(this._injectedQuerySecrets[s]).forEach(([l, c]) => {
        const f = btoa(encodeURIComponent(c));
        r.searchParams.set(l, f);
      }), i.url = r.href, (u = (a = this._definition) == null ? void 0 : a.metaframes) != null && u[s] && (this._definition = C(this._definition, (l) => {
        l.metaframes[s].url = r.href;
      }));
    });
  }
  _getDefinitionWithoutSecrets() {
    return Object.keys(this._injectedSecrets).length === 0 && Object.keys(this._injectedQuerySecrets).length === 0 ? this._definition : C(this._definition, (e) => {
      (/* @__PURE__ */ new Set([
        ...Object.keys(this._injectedSecrets),
        ...Object.keys(this._injectedQuerySecrets)
      ])).forEach((n) => {
        var c;
        if (!((c = e.metaframes) != null && c[n]))
          return;
        const i = this._metaframes[n];
        if (!i || i.url.startsWith("data:"))
          return;
        let o = i.url;
        const r = this._injectedSecrets[n] || {}, a = this._originalSecretHashParams[n] || {};
        Object.keys(r).forEach((f) => {
          const h = a[f];
          if (h === void 0) {
            const p = new URL(o);
            let d = p.hash.startsWith("#?") ? p.hash.slice(2) : p.hash.slice(1);
            d = d.replace(/\?/g, "&");
            const b = new URLSearchParams(d);
            b.delete(f);
            const w = b.toString();
            p.hash = w ? p.hash.startsWith("#?") ? `?${w}` : w : "", o = p.href;
          } else {
            const p = kt(o, f, h);
            o = typeof p == "string" ? p : p.href;
          }
        });
        const u = this._injectedQuerySecrets[n] || {}, l = this._originalSecretQueryParams[n] || {};
        Object.keys(u).forEach((f) => {
          const h = l[f], p = new URL(o);
          h === void 0 ? p.searchParams.delete(f) : p.searchParams.set(f, h), o = p.href;
        }), e.metaframes[n].url = o;
      });
    });
  }
  async _applyDefinition(e, s) {
    var h;
    const n = await Vn(e);
    if (this.isDisposed())
      return { newDefinition: n, added: {}, removed: {} };
    n.metaframes && Object.keys(n.metaframes).forEach((p) => {
      var d = n.metaframes[p];
      if (typeof d != "object")
        throw this.emitErrorMessage(`Metaframe "${p}" is not an object`), `Metaframe "${p}" is not an object`;
      if (!d.url)
        throw this.emitErrorMessage(`Metaframe "${p}" missing field: url`), `Metaframe "${p}" missing field: url`;
    });
    const i = { ...this._injectedSecrets }, o = { ...this._injectedQuerySecrets }, r = { ...this._originalSecretHashParams }, a = { ...this._originalSecretQueryParams }, u = {};
    (h = this._definition) != null && h.metaframes && Object.keys(this._definition.metaframes).forEach((p) => {
      u[p] = this._definition.metaframes[p].url;
    }), this._definition = n;
    const l = {};
    Object.keys(this._metaframes).forEach((p) => {
      (!n.metaframes || !n.metaframes[p]) && (l[p] = this._metaframes[p]);
    }), Object.keys(l).forEach((p) => {
      this.removeMetaframe(p);
    }), s && (this._state = C(s, (p) => p));
    const c = {};
    return n.metaframes && Object.keys(n.metaframes).forEach((p) => {
      if (!this._metaframes.hasOwnProperty(p)) {
        const d = n.metaframes[p], b = this.addMetaframe(p, d);
        c[p] = b;
      }
    }), n.metaframes && Object.keys(n.metaframes).forEach((p) => {
      if (c[p])
        return;
      const d = this._metaframes[p];
      if (!d)
        return;
      const b = n.metaframes[p].url, w = u[p];
      b && w !== b && (d.url = b, d._iframe && (d._iframe.src = b));
    }), n.metaframes && (Object.keys(n.metaframes).forEach((p) => {
      if (c[p])
        return;
      this._inputMap = C(this._inputMap, (b) => {
        delete b[p];
      });
      const d = n.metaframes[p];
      d.inputs && d.inputs.forEach((b) => this.addPipe(p, b));
    }), this._cachedInputLookupMap = C({}, (p) => p)), (/* @__PURE__ */ new Set([
      ...Object.keys(i),
      ...Object.keys(o)
    ])).forEach((p) => {
      var d, b, w, A, S;
      if (this._metaframes[p]) {
        const O = i[p] || {}, $ = o[p] || {}, E = this._metaframes[p], j = (w = (b = (d = this._definition) == null ? void 0 : d.metaframes) == null ? void 0 : b[p]) == null ? void 0 : w.url;
        if (!j || j.startsWith("data:"))
          return;
        let T = new URL(j);
        if (Object.keys(O).length > 0) {
          const _ = r[p] || {};
          Object.keys(O).forEach((M) => {
            const y = ze(T.href, M);
            _[M] = y;
          }), this._injectedSecrets[p] = O, this._originalSecretHashParams[p] = _;
        }
        if (Object.keys($).length > 0) {
          const _ = a[p] || {};
          Object.keys($).forEach((M) => {
            const y = T.searchParams.get(M);
            _[M] = y || void 0;
          }), this._injectedQuerySecrets[p] = $, this._originalSecretQueryParams[p] = _;
        }
        Object.entries(O).forEach(([_, M]) => {
          T = new URL(kt(T.href, _, M));
        }), Object.entries($).forEach(([_, M]) => {
          const y = btoa(encodeURIComponent(M));
          T.searchParams.set(_, y);
        }), E.url = T.href, (S = (A = this._definition) == null ? void 0 : A.metaframes) != null && S[p] && (this._definition = C(this._definition, (_) => {
          _.metaframes[p].url = T.href;
        }));
      }
    }), { newDefinition: n, added: c, removed: l };
  }
  async setDefinition(e, s) {
    const n = this._definition, { newDefinition: i } = await this._applyDefinition(e, s);
    return this.isDisposed() ? this : (n !== fn && window.setTimeout(() => {
      !this.isDisposed() && i === this._definition && (this._emitDefinitionEvent(), s && this.listenerCount(I.State) > 0 && wt !== this._state && this.emit(I.State, this._state));
    }, 0), this);
  }
  async updateDefinition(e, s) {
    const { added: n, removed: i } = await this._applyDefinition(e, s);
    return this.isDisposed() ? this : (window.setTimeout(() => {
      if (!this.isDisposed()) {
        this._emitDefinitionUpdateEvent(n, i);
        const o = Object.keys(n).length > 0 || Object.keys(i).length > 0;
        this.listenerCount(I.State) > 0 && (o || s && wt !== this._state) && this.emit(I.State, this._state);
      }
    }, 0), this);
  }
  setMetadata(e) {
    this._definition = C(this._definition, (s) => {
      s.meta = e;
    }), this._emitDefinitionEvent();
  }
  _emitDefinitionEvent() {
    if (this.listenerCount(I.Definition) > 0) {
      const e = {
        definition: this._getDefinitionWithoutSecrets(),
        metaframes: this._metaframes
      };
      this.emit(I.Definition, e);
    }
  }
  _emitDefinitionUpdateEvent(e, s) {
    if (this.listenerCount(I.DefinitionUpdate) > 0) {
      const n = {
        definition: this._getDefinitionWithoutSecrets(),
        metaframes: {
          current: this._metaframes,
          added: e,
          removed: s
        }
      };
      this.emit(I.DefinitionUpdate, n);
    }
  }
  addPipe(e, s) {
    this._inputMap = C(this._inputMap, (n) => {
      n[e] || (n[e] = []), n[e].push(s);
    });
  }
  removeMetaframe(e) {
    this._metaframes[e] && (this._metaframes[e].dispose(), this._metaframes = C(this._metaframes, (s) => {
      delete s[e];
    }), this._state = C(this._state, (s) => {
      delete s.metaframes.inputs[e], delete s.metaframes.outputs[e];
    }), this._inputMap = C(this._inputMap, (s) => {
      delete s[e], Object.keys(s).forEach((n) => {
        const i = s[n];
        let o = 0;
        for (; o <= i.length; )
          i[o] && i[o].metaframe === e ? i.splice(o, 1) : o++;
      });
    }), delete this._injectedSecrets[e], delete this._injectedQuerySecrets[e], delete this._originalSecretHashParams[e], delete this._originalSecretQueryParams[e], this._cachedInputLookupMap = C({}, (s) => s));
  }
  removeAll() {
    Object.keys(this._metaframes).forEach((e) => this._metaframes[e].dispose()), this._metaframes = C({}, (e) => e), this._state = wt, this._inputMap = C({}, (e) => e), this._cachedInputLookupMap = C({}, (e) => e), this._injectedSecrets = {}, this._injectedQuerySecrets = {}, this._originalSecretHashParams = {}, this._originalSecretQueryParams = {};
  }
  metaframes() {
    return this.getMetaframes();
  }
  metaframeIds() {
    return this.getMetaframeIds();
  }
  getMetaframeIds() {
    return Object.keys(this._metaframes);
  }
  getMetaframes() {
    return this._metaframes;
  }
  getMetaframe(e) {
    var s;
    return (s = this == null ? void 0 : this._metaframes) == null ? void 0 : s[e];
  }
  addMetaframe(e, s) {
    if (!e)
      throw "addMetaframe missing metaframeId";
    if (!s)
      throw "addMetaframe missing definition";
    if (this._metaframes[e])
      throw this.emitErrorMessage(`Existing metaframe for id=${e}`), `Existing metaframe for id=${e}`;
    if (!s.url)
      throw this.emitErrorMessage(`Metaframe definition missing url id=${e}`), `Metaframe definition missing url id=${e}`;
    var n = new zr(this, s.url, e, this._id, this._consoleBackgroundColor, this.debug).setMetapage(this);
    return this._metaframes = C(this._metaframes, (i) => {
      i[e] = n;
    }), n.addListener(I.Error, (i) => {
      this.emit(I.Error, {
        metaframeId: n.id,
        metaframeUrl: n.url,
        error: i
      });
    }), s.inputs && s.inputs.forEach((i) => this.addPipe(e, i)), n.setInputs(this._state.metaframes.inputs[e]), n;
  }
  dispose() {
    this.log("disposing"), super.removeAllListeners(), window.removeEventListener("message", this.onMessage), this._metaframes && Object.keys(this._metaframes).forEach((e) => this._metaframes[e].dispose()), this._id = void 0, this._metaframes = void 0, this._state = void 0, this._cachedInputLookupMap = void 0, this._inputMap = void 0;
  }
  log(e, s, n) {
    this.debug && this.logInternal(e, s, n);
  }
  error(e) {
    this.logInternal(e, "f00", this._consoleBackgroundColor), this.emitErrorMessage(`${e}`);
  }
  emitErrorMessage(e) {
    this.emit(I.Error, e);
  }
  getInputsFromOutput(e, s) {
    return this._cachedInputLookupMap[e] || (this._cachedInputLookupMap = C(this._cachedInputLookupMap, (n) => {
      n[e] = C({}, (i) => i);
    })), this._cachedInputLookupMap[e][s] || (this._cachedInputLookupMap = C(this._cachedInputLookupMap, (n) => {
      var i = [];
      n[e][s] = i, Object.keys(this._inputMap).forEach((o) => {
        o !== e && this._inputMap[o].forEach((r) => {
          if (r.metaframe === e && Vr(s, r.source)) {
            var a = r.target || "";
            !r.target || r.target.startsWith("*") || r.target === "" ? a = s : a && a.endsWith("/") && (a = a + s), i.push({ metaframe: o, pipe: a });
          }
        });
      });
    })), this._cachedInputLookupMap[e][s];
  }
  isValidJSONRpcMessage(e) {
    if (e.jsonrpc !== "2.0")
      return !1;
    switch (e.method) {
      case Y.SetupIframeClientRequest:
        return !0;
      default:
        var n = e.iframeId;
        return n && e.parentId === this._id && !!this._metaframes[n];
    }
  }
  setInput(e, s, n) {
    var i, o;
    typeof e == "object" ? this.setInputStateOnlyMetapageInstanceInputs(e) : typeof s == "string" ? this.setInputStateOnlyMetaframeInputValue(e, s, n) : this.setInputStateOnlyMetaframeInputMap(e, s || {}), this.setMetaframeClientInputAndSentClientEvent(e, s, n), (this.listenerCount(I.State) > 0 || this.listenerCount(I.Inputs) > 0) && wt !== this._state && (this.emit(I.State, this._state), this.emit(I.Inputs, (o = (i = this._state) == null ? void 0 : i.metaframes) == null ? void 0 : o.inputs));
  }
  setMetaframeClientInputAndSentClientEvent(e, s, n) {
    if (typeof e == "object") {
      if (s || n)
        throw "bad arguments, see API docs";
      const i = e;
      Object.keys(i).forEach((o) => {
        var r = o, a = i[r];
        if (typeof a != "object")
          throw "bad arguments, see API docs";
        var u = this._metaframes[r];
        u ? u.setInputs(a) : this.error("No iframe id=$metaframeId");
      });
    } else if (typeof e == "string") {
      const i = this._metaframes[e];
      if (i == null && this.error(`No iframe id=${e}`), typeof s == "string")
        i.setInput(s, n);
      else if (typeof s == "object")
        i.setInputs(s);
      else
        throw "bad arguments, see API docs";
    } else
      throw "bad arguments, see API docs";
  }
  setInputs(e, s, n) {
    this.setInput(e, s, n);
  }
  setOutputStateOnlyMetapageInstanceInputs(e) {
    this._setStateOnlyMetaframes(!1, e);
  }
  setOutputStateOnlyMetaframeInputValue(e, s, n) {
    this._setStateOnlyMetaframeInputValue(!1, e, s, n);
  }
  setOutputStateOnlyMetaframeInputMap(e, s) {
    this._setStateOnlyMetaframeInputMap(!1, e, s);
  }
  setInputStateOnlyMetapageInstanceInputs(e) {
    this._setStateOnlyMetaframes(!0, e);
  }
  setInputStateOnlyMetaframeInputValue(e, s, n) {
    this._setStateOnlyMetaframeInputValue(!0, e, s, n);
  }
  setInputStateOnlyMetaframeInputMap(e, s) {
    this._setStateOnlyMetaframeInputMap(!0, e, s);
  }
  _setStateOnlyMetaframeInputValue(e, s, n, i) {
    this._state = C(this._state, (o) => {
      if (!this._metaframes.hasOwnProperty(s))
        throw `No metaframe: ${s}`;
      o.metaframes || (o.metaframes = { inputs: {}, outputs: {} }), e ? o.metaframes.inputs || (o.metaframes.inputs = {}) : o.metaframes.outputs || (o.metaframes.outputs = {});
      let a = e ? o.metaframes.inputs : o.metaframes.outputs;
      a = a || {}, a[s] = a[s] ? a[s] : {}, i === void 0 ? delete a[s][n] : a[s][n] = i;
    });
  }
  _setStateOnlyMetaframeInputMap(e, s, n) {
    !n || Object.keys(n).length === 0 || (this._state = C(this._state, (i) => {
      if (!this._metaframes.hasOwnProperty(s))
        throw `No metaframe: ${s}`;
      let r = e ? i.metaframes.inputs : i.metaframes.outputs;
      r[s] = r[s] ? r[s] : {}, Object.keys(n).forEach((a) => {
        n[a] === void 0 ? delete r[s][a] : r[s][a] = n[a];
      });
    }));
  }
  _setStateOnlyMetaframes(e, s) {
    !s || Object.keys(s).length === 0 || (this._state = C(this._state, (n) => {
      Object.keys(s).forEach((i) => {
        var o = s[i];
        if (typeof o != "object")
          throw "Object values must be objects";
        if (!this._metaframes.hasOwnProperty(i))
          throw "No metaframe: ${metaframeId}";
        const a = e ? n.metaframes.inputs : n.metaframes.outputs;
        a[i] = a[i] ? a[i] : {}, Object.keys(o).forEach((u) => {
          o[u] === void 0 ? delete a[i][u] : a[i][u] = o[u];
        });
      });
    }));
  }
  setMetaframeOutputs(e, s) {
    this.onMessageJsonRpc({
      iframeId: e,
      parentId: this._id,
      jsonrpc: "2.0",
      method: Y.OutputsUpdate,
      id: "_",
      params: s
    });
  }
  setOutputs(e) {
    if (this._metaframes)
      for (const s in e)
        this.setMetaframeOutputs(s, e[s]);
  }
  onMessage(e) {
    if (typeof e.data == "object") {
      const s = e.data;
      if (!this.isValidJSONRpcMessage(s))
        return;
      this.onMessageJsonRpc(s);
    }
  }
  onMessageJsonRpc(e) {
    var s = e.method;
    const n = e.iframeId;
    if (!n || s !== "SetupIframeClientRequest" && e.parentId !== this._id)
      return;
    const i = this.getMetaframe(n);
    if (i) {
      switch (e._messageCount = ++this._internalReceivedMessageCounter, this.debug && this.log(`processing ${JSON.stringify(e, null, "  ").substring(0, 500)}`), s) {
        case Y.SetupIframeClientRequest:
          i.register();
          break;
        case Y.SetupIframeServerResponseAck:
          if (i) {
            const l = e.params;
            i.registered(l.version);
          }
          break;
        case Y.OutputsUpdate:
          const u = e.params;
          if (!u || Object.keys(u).length === 0)
            break;
          if (this._metaframes[n]) {
            var o = this._metaframes[n];
            this.setOutputStateOnlyMetaframeInputMap(n, u), o.setOutputs(u);
            var r = !1;
            const l = Object.keys(u), c = {};
            l.forEach((f, h) => {
              const p = this.getInputsFromOutput(n, f);
              p.length > 0 && p.forEach((d) => {
                c[d.metaframe] || (c[d.metaframe] = {}), c[d.metaframe][d.pipe] = u[f], r = !0;
              });
            }), r && (this.setInputStateOnlyMetapageInstanceInputs(c), Object.keys(c).forEach((f) => {
              this._metaframes[f].setInputs(c[f]);
            })), this.listenerCount(I.State) > 0 && wt !== this._state && this.emit(I.State, this._state), this.debug && o.ack({ jsonrpc: e, state: this._state });
          } else
            this.error(`missing metaframe=${n}`);
          break;
        case Y.InputsUpdate:
          var a = e.params;
          this.debug && this.log(`inputs ${JSON.stringify(a)} from ${n}`), this._metaframes[n] ? (this.setInputStateOnlyMetaframeInputMap(n, a), this._metaframes[n].setInputs(a), this.listenerCount(I.State) > 0 && wt !== this._state && this.emit(I.State, this._state), this.debug && this._metaframes[n].ack({
            jsonrpc: e,
            state: this._state
          })) : (console.error(`InputsUpdate failed no metaframe id: "${n}"`), this.error(`InputsUpdate failed no metaframe id: "${n}"`));
          break;
        case Y.HashParamsUpdate:
          if (i) {
            if (i.url.startsWith("data:"))
              break;
            const l = e.params, c = l.metaframe;
            let f = new URL(i.url);
            f.hash = l.hash, this._injectedSecrets[c] && Object.entries(this._injectedSecrets[c]).forEach(([d, b]) => {
              f = new URL(kt(f.href, d, b));
            }), this._injectedQuerySecrets[c] && Object.entries(this._injectedQuerySecrets[c]).forEach(([d, b]) => {
              const w = btoa(encodeURIComponent(b));
              f.searchParams.set(d, w);
            }), i.url = f.href;
            let h = f.href;
            if (this._injectedSecrets[c]) {
              const d = this._originalSecretHashParams[c] || {};
              Object.keys(this._injectedSecrets[c]).forEach((b) => {
                const w = d[b];
                if (w === void 0) {
                  const A = new URL(h);
                  let S = A.hash.startsWith("#?") ? A.hash.slice(2) : A.hash.slice(1);
                  S = S.replace(/\?/g, "&");
                  const O = new URLSearchParams(S);
                  O.delete(b);
                  const $ = O.toString();
                  A.hash = $ ? A.hash.startsWith("#?") ? `?${$}` : $ : "", h = A.href;
                } else {
                  const A = kt(h, b, w);
                  h = typeof A == "string" ? A : A.href;
                }
              });
            }
            if (this._injectedQuerySecrets[c]) {
              const d = this._originalSecretQueryParams[c] || {};
              Object.keys(this._injectedQuerySecrets[c]).forEach((b) => {
                const w = d[b], A = new URL(h);
                w === void 0 ? A.searchParams.delete(b) : A.searchParams.set(b, w), h = A.href;
              });
            }
            const p = new URL(h);
            this._definition = C(this._definition, (d) => {
              d.metaframes[c].url = p.href;
            }), this._emitDefinitionEvent();
          }
          break;
        default:
          this.debug && this.log(`Unknown RPC method: "${s}"`);
      }
      this.listenerCount(I.Message) > 0 && this.emit(I.Message, e);
    }
  }
  logInternal(e, s, n) {
    n = n || this._consoleBackgroundColor;
    let i;
    typeof e == "string" ? i = e : typeof e == "number" ? i = e + "" : i = JSON.stringify(e), i = this._id ? `Metapage[${this._id}] ${i}` : i, fs(i, s, n);
  }
}
tt.version = ks;
tt.DEFINITION = I.Definition;
tt.DEFINITION_UPDATE = I.DefinitionUpdate;
tt.ERROR = I.Error;
tt.INPUTS = I.Inputs;
tt.MESSAGE = I.Message;
tt.OUTPUTS = I.Outputs;
tt.STATE = I.State;
tt.deserializeInputs = Vt;
tt.serializeInputs = ve;
function ys(t) {
  return t.startsWith("data:") ? t.includes("type=metapage-divider") : !1;
}
function Jr(t) {
  const e = JSON.parse(JSON.stringify(t));
  e.meta || (e.meta = {}), e.meta.layouts || (e.meta.layouts = {}), e.meta.layouts["react-grid-layout"] || (e.meta.layouts["react-grid-layout"] = {
    docs: "https://www.npmjs.com/package/react-grid-layout",
    props: {
      cols: 12,
      margin: [20, 40],
      rowHeight: 100,
      containerPadding: [5, 5]
    },
    layout: []
  });
  const s = e.meta.layouts["react-grid-layout"];
  if (e.metaframes) {
    Object.keys(e.metaframes).forEach((i) => {
      if (!s.layout.some((o) => o.i === i)) {
        const o = s.layout.length > 0 ? Math.max(...s.layout.map((r) => (r.y || 0) + (r.h || 2))) : 0;
        s.layout.push({
          i,
          x: 0,
          y: o,
          w: s.props.cols,
          h: ys(e.metaframes[i].url) ? 1 : 3
        });
      }
    });
    const n = new Set(Object.keys(e.metaframes));
    s.layout = s.layout.filter((i) => n.has(i.i)), s.layout.forEach((i) => {
      i.x = i.x || 0, i.y = i.y || 0, i.w = i.w || 1, i.h = i.h || 1;
    });
  }
  return e;
}
const Gr = (t) => {
  var l, c, f;
  const e = (c = (l = t == null ? void 0 : t.meta) == null ? void 0 : l.layouts) == null ? void 0 : c["react-grid-layout"], s = e == null ? void 0 : e.layout;
  if (!e || !s)
    throw new Error("No valid layout found in metapage definition");
  const n = /* @__PURE__ */ new Set(), i = s.map((h, p) => {
    const d = t.metaframes[h.i];
    return d && ys(d.url) ? { index: p, y: h.y, id: h.i } : null;
  }).filter((h) => h !== null);
  if (i.length > 0) {
    const h = i.reduce((d, b) => b.y < d.y ? b : d), p = ((f = s.find((d) => d.i === h.id)) == null ? void 0 : f.y) ?? 0;
    s.forEach((d) => {
      d.y >= p && n.add(d.i);
    });
  }
  const o = Object.keys(t.metaframes).filter((h) => !n.has(h)), r = Object.keys(t.metaframes).filter((h) => n.has(h));
  let a = s.filter((h) => o.includes(h.i));
  a.sort((h, p) => h.y !== p.y ? h.y - p.y : h.x - p.x);
  const u = a.reduce((h, p) => Math.max(h, p.y + p.h), 0);
  return {
    visibleLayoutItems: a,
    hiddenMetaframeIds: new Set(r),
    visibleMetaframeIds: new Set(o),
    totalVisibleGridHeight: u
  };
};
async function mo(t) {
  var $, E, j, T;
  let { url: e, definition: s, onOutputs: n, rootDiv: i, options: o = {} } = t;
  if (!e && !s)
    throw new Error("Either url or definition must be provided");
  if (e && s)
    throw new Error("Either url or definition must be provided, not both");
  if (e && (s = await Fr(e)), !s)
    throw new Error("Failed to fetch metapage definition");
  s = Jr(s), s = await Kr(s), await qt();
  const r = new tt();
  r.debug = o.debug || !1;
  try {
    await r.setDefinition(JSON.parse(JSON.stringify(s)));
  } catch (_) {
    throw r.dispose(), new Error(`Failed to set metapage definition: ${_}`);
  }
  const a = [];
  n && a.push(r.addListenerReturnDisposer(I.Outputs, n));
  const u = (E = ($ = s == null ? void 0 : s.meta) == null ? void 0 : $.layouts) == null ? void 0 : E["react-grid-layout"], l = u == null ? void 0 : u.layout;
  if (!u || !l)
    throw new Error("No valid layout found in metapage definition");
  let { visibleLayoutItems: c, hiddenMetaframeIds: f, visibleMetaframeIds: h } = Gr(r.getDefinition());
  if (c.length === 0)
    return {
      metapage: r,
      setInputs: (_) => {
        r.isDisposed() || r.setInputs(_);
      },
      setOutputs: (_) => {
        r.isDisposed() || r.setOutputs(_);
      },
      dispose: () => {
        a.forEach((_) => _()), r.dispose();
      }
    };
  c.sort((_, M) => _.y !== M.y ? _.y - M.y : _.x - M.x);
  const p = {
    display: "grid",
    gridTemplateColumns: "repeat(1, 1fr)",
    gridAutoRows: "1fr",
    gap: `${((j = u.props.margin) == null ? void 0 : j[0]) || 10}px`,
    width: "100%",
    height: "100%",
    maxHeight: "100%",
    padding: ((T = u.props.containerPadding) == null ? void 0 : T[0]) || 0,
    minHeight: 0,
    alignContent: "start",
    alignItems: "start",
    overflow: "hidden"
  }, d = {
    width: "100%",
    height: "100%",
    overflow: "hidden",
    display: "flex",
    flexDirection: "column"
  }, b = document.createElement("div");
  Object.assign(b.style, d);
  const w = document.createElement("div");
  Object.assign(w.style, p);
  const A = [];
  for (const _ of h) {
    const M = l.find((m) => m.i === _);
    if (!M)
      continue;
    const y = r.getMetaframes()[_], L = await y.iframe;
    if (!y)
      continue;
    A.push(M);
    const V = {
      gridColumn: `${M.x + 1} / span ${M.w}`,
      gridRow: `${M.y + 1} / span ${M.h}`,
      position: "relative",
      overflowY: "hidden",
      width: "100%",
      height: "100%",
      border: o.hideFrameBorders ? "none" : "1px solid #e0e0e0",
      alignSelf: "stretch",
      justifySelf: "stretch"
    }, H = document.createElement("div");
    H.classList.add("metaframe-container"), Object.assign(H.style, V), L.classList.add("metaframe"), L.style.position = "absolute", L.style.top = "0", L.style.left = "0", L.style.width = "100%", L.style.height = "100%", L.style.border = "0", L.style.overflow = "hidden", H.appendChild(L), w.appendChild(H);
  }
  const S = Math.max(...A.map((_) => _.x + _.w));
  Math.max(...A.map((_) => _.y + _.h)), w.style.gridTemplateColumns = `repeat(${Math.max(1, S)}, 1fr)`;
  const O = document.createElement("div");
  O.style.position = "absolute", O.style.top = "-9999px", O.style.left = "-9999px", O.style.width = "1px", O.style.height = "1px", O.style.overflow = "hidden", O.style.pointerEvents = "none";
  for (const _ of Object.keys(r.getMetaframes()).filter((M) => f.has(M))) {
    const M = r.getMetaframes()[_];
    if (!M)
      continue;
    const y = document.createElement("div");
    y.setAttribute("data-metaframe-id", _), y.style.width = "100px", y.style.height = "100px";
    let L;
    M.iframe ? L = await M.iframe : (L = document.createElement("iframe"), L.src = M.url, L.style.border = "none", L.style.width = "100%", L.style.height = "100%"), y.appendChild(L), O.appendChild(y);
  }
  return b.appendChild(w), b.appendChild(O), i.appendChild(b), {
    metapage: r,
    setInputs: (_) => {
      r.isDisposed() || r.setInputs(_);
    },
    setOutputs: (_) => {
      r.isDisposed() || r.setOutputs(_);
    },
    dispose: () => {
      a.forEach((_) => _()), r.dispose(), b.parentNode && b.parentNode.removeChild(b);
    }
  };
}
const go = (t, e) => {
  var r, a, u;
  const s = (a = (r = t == null ? void 0 : t.meta) == null ? void 0 : r.layouts) == null ? void 0 : a["react-grid-layout"], n = s == null ? void 0 : s.layout;
  if (!s || !n)
    throw new Error("No valid layout found in metapage definition");
  const i = /* @__PURE__ */ new Set(), o = n.map((l, c) => {
    var h;
    const f = (h = t == null ? void 0 : t.metaframes) == null ? void 0 : h[l.i];
    return f && ys(f.url) ? { index: c, y: l.y, id: l.i } : null;
  }).filter((l) => l !== null);
  if (o.length > 0) {
    const l = o.reduce((f, h) => h.y < f.y ? h : f), c = ((u = n.find((f) => f.i === l.id)) == null ? void 0 : u.y) ?? 0;
    n.forEach((f) => {
      f.y >= c && i.add(f.i);
    });
  }
  return i.has(e);
}, Qr = (t) => {
  var s;
  if (!t)
    return;
  typeof t == "string" && (t.startsWith("/") && (t = "https://metapage.io" + t), t = new URL(t));
  let e = (s = /\/m?f\/([0-9a-zA-Z-]{3,})\/?(metaframe\.json)?.*$/g.exec(t.pathname)) == null ? void 0 : s[1];
  return e || (t.searchParams.get("mfk") ?? void 0);
}, Kr = async (t) => {
  if (!(t != null && t.metaframes))
    return t;
  for (const [e, s] of Object.entries(t.metaframes)) {
    if (!(s.url.startsWith("https://metapage.io/mf/") || s.url.startsWith("https://metapage.io/f/")))
      continue;
    const n = Qr(s.url);
    if (!n)
      continue;
    const i = await fetch(`https://metapage.io/f/${n}/definition.json`).then((o) => o.json());
    i != null && i.url && (s.url = i == null ? void 0 : i.url);
  }
  return t;
}, It = "mf";
async function bo(t) {
  const { url: e, onOutputs: s, onUrlChange: n, rootDiv: i, debug: o = !1 } = t;
  if (!e)
    throw new Error("url must be provided");
  const r = {
    version: "0.4",
    metaframes: {
      [It]: { url: e }
    },
    meta: {
      layouts: {
        "react-grid-layout": {
          docs: "https://www.npmjs.com/package/react-grid-layout",
          props: {
            cols: 1,
            margin: [0, 0],
            rowHeight: 100,
            containerPadding: [0, 0]
          },
          layout: [{ i: It, x: 0, y: 0, w: 1, h: 1 }]
        }
      }
    }
  };
  await qt();
  const a = new tt();
  a.debug = o;
  try {
    await a.setDefinition(JSON.parse(JSON.stringify(r)));
  } catch (h) {
    throw a.dispose(), new Error(`Failed to set metapage definition: ${h}`);
  }
  const u = [];
  if (s && u.push(a.addListenerReturnDisposer(I.Outputs, (h) => {
    s(h[It] || {});
  })), n) {
    let h = e;
    u.push(a.addListenerReturnDisposer(I.DefinitionUpdate, (p) => {
      var b, w, A;
      const d = (A = (w = (b = p.definition) == null ? void 0 : b.metaframes) == null ? void 0 : w[It]) == null ? void 0 : A.url;
      d && d !== h && (h = d, n(d));
    }));
  }
  const l = a.getMetaframes()[It];
  if (!l)
    throw a.dispose(), new Error("Failed to create metaframe");
  const c = await l.iframe, f = document.createElement("div");
  return f.style.width = "100%", f.style.height = "100%", f.style.margin = "0", f.style.padding = "0", f.style.overflow = "hidden", f.style.position = "relative", c.style.position = "absolute", c.style.top = "0", c.style.left = "0", c.style.width = "100%", c.style.height = "100%", c.style.border = "none", c.style.margin = "0", c.style.padding = "0", f.appendChild(c), i.appendChild(f), {
    metapage: a,
    setInputs: (h) => {
      a.isDisposed() || a.setInputs({ [It]: h });
    },
    setOutputs: (h) => {
      a.isDisposed() || a.setOutputs({ [It]: h });
    },
    dispose: () => {
      u.forEach((h) => h()), a.dispose(), f.parentNode && f.parentNode.removeChild(f);
    }
  };
}
export {
  fn as INITIAL_NULL_METAPAGE_DEFINITION,
  ro as INTERNAL_ERROR,
  io as INVALID_PARAMS,
  so as INVALID_REQUEST,
  Y as JsonRpcMethodsFromChild,
  Ot as JsonRpcMethodsFromParent,
  Xr as METAFRAME_JSON_FILE,
  Yr as METAPAGE_KEY_DEFINITION,
  qr as METAPAGE_KEY_STATE,
  no as METHOD_NOT_FOUND,
  ct as Metaframe,
  W as MetaframeEvents,
  ft as MetaframeLoadingState,
  _e as MetaframeVersionCurrent,
  ms as MetaframeVersionsAll,
  tt as Metapage,
  I as MetapageEvents,
  Gt as MetapageHashParams,
  zr as MetapageIFrameRpcClient,
  or as MetapageShared,
  we as MetapageVersionCurrent,
  gs as MetapageVersionsAll,
  eo as PARSE_ERROR,
  On as VERSION_METAFRAME,
  ks as VERSION_METAPAGE,
  ti as convertMetaframeDefinitionToCurrentVersion,
  Qs as convertMetaframeDefinitionToVersion,
  He as convertMetaframeJsonToCurrentVersion,
  Vn as convertMetapageDefinitionToCurrentVersion,
  Gs as convertMetapageDefinitionToVersion,
  Vt as deserializeInputs,
  Js as detectMetaframeVersion,
  Ws as detectMetapageVersion,
  ls as generateId,
  co as generateMetaframeId,
  ar as generateMetapageId,
  lo as generateNonce,
  yo as getLibraryVersionMatching,
  ot as getMatchingMetaframeVersion,
  vt as getMatchingMetapageVersion,
  Br as getMetaframeDefinitionFromUrl,
  Fr as getMetapageDefinitionFromUrl,
  ao as getUrlParam,
  uo as getUrlParamDebug,
  Gr as getVisibleGridLayoutData,
  ur as hashCode,
  cr as intToRGB,
  Ve as isDebugFromUrlsParams,
  ho as isEmptyMetaframeDefinition,
  rr as isIframe,
  oo as isJsonRpcId,
  ys as isMetaframeDivider,
  go as isMetaframeHidden,
  Ie as isPageLoaded,
  fs as log,
  Vr as matchPipe,
  me as merge,
  fo as metapageAllSha256Hash,
  po as metapageOnlyEssentailSha256Hash,
  Zn as normalizeHashParams,
  qt as pageLoaded,
  Zr as possiblyDeserializeDatarefToFile,
  os as possiblyDeserializeDatarefToValue,
  ji as possiblySerializeValueToDataref,
  bo as renderMetaframe,
  mo as renderMetapage,
  ve as serializeInputs,
  pn as stringToRgb,
  to as valueToFile
};
//# sourceMappingURL=index.js.map
