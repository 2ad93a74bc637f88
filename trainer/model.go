package trainer

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/kilnlm/kiln/kernels"
)

// layerParams are views into the flat parameter (or gradient) buffer.
type layerParams struct {
	attnNorm, wq, wk, wv, wo, mlpNorm, wgate, wup, wdown kernels.Buffer
}

type paramViews struct {
	embed, finalNorm kernels.Buffer
	layers           []layerParams
}

// acts holds every activation of one micro-batch shape, one allocation.
type acts struct {
	B, T      int
	all       kernels.Buffer
	tokens    kernels.Buffer // int32 [N]
	targets   kernels.Buffer // int32 [N]
	pos       kernels.Buffer // int32 [N]
	mask      kernels.Buffer // [N]
	res       []kernels.Buffer
	layers    []layerActs
	lnf, rstf kernels.Buffer
	logits    kernels.Buffer // [N,V]; holds dlogits after a training forward
	losses    kernels.Buffer // [N]
	// backward scratch
	dres, dln, dq, dk, dv, datt, dgate, dup, dact kernels.Buffer
}

type layerActs struct {
	ln1, rstd1, q, k, v, att, lse, resMid, ln2, rstd2, gate, up, act kernels.Buffer
}

// Model is a SmolLM3-family transformer on a backend. Parameters and
// gradients are each one flat buffer (checkpoints write them in one piece);
// activations are one buffer per batch shape.
type Model struct {
	Cfg     Config
	be      kernels.Backend
	specs   []tensorSpec
	Params  kernels.Buffer
	Grads   kernels.Buffer
	p, g    paramViews
	nParams int
	act     *acts            // the set the last Forward used
	cache   map[[2]int]*acts // by (B, T): training, eval and sampling shapes
}

// NewModel allocates a model on be with parameters initialised from seed:
// normal(0, InitStd) matrices (output projections scaled by 1/sqrt(2L)),
// norms at 1. Each tensor draws from its own stream keyed by its index, so
// no two tensors start equal.
func NewModel(be kernels.Backend, cfg Config, seed uint64) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Model{Cfg: cfg, be: be, specs: cfg.tensors()}
	last := m.specs[len(m.specs)-1]
	m.nParams = last.Off + last.Size()
	m.Params = be.Alloc(m.nParams)
	m.Grads = be.Alloc(m.nParams)
	m.p = m.views(m.Params)
	m.g = m.views(m.Grads)
	host := make([]float32, m.nParams)
	for i, t := range m.specs {
		dst := host[t.Off : t.Off+t.Size()]
		if t.Norm {
			for j := range dst {
				dst[j] = 1
			}
			continue
		}
		std := float64(cfg.InitStd)
		if t.Out {
			std /= math.Sqrt(2 * float64(cfg.Layers))
		}
		r := rand.New(rand.NewPCG(seed, uint64(i)+1))
		for j := range dst {
			dst[j] = float32(r.NormFloat64() * std)
		}
	}
	be.Upload(m.Params, host)
	return m, nil
}

// NumParams is the number of parameters.
func (m *Model) NumParams() int { return m.nParams }

func (m *Model) views(buf kernels.Buffer) paramViews {
	v := func(i int) kernels.Buffer { t := m.specs[i]; return m.be.View(buf, t.Off, t.Size()) }
	pv := paramViews{embed: v(0), finalNorm: v(len(m.specs) - 1)}
	for l := 0; l < m.Cfg.Layers; l++ {
		b := 1 + 9*l
		pv.layers = append(pv.layers, layerParams{v(b), v(b + 1), v(b + 2), v(b + 3), v(b + 4), v(b + 5), v(b + 6), v(b + 7), v(b + 8)})
	}
	return pv
}

// activations returns the activation set for shape (B, T), allocating it
// when the shape changes.
func (m *Model) activations(B, T int) *acts {
	if a, ok := m.cache[[2]int{B, T}]; ok {
		m.act = a
		return a
	}
	if len(m.cache) >= 3 { // bounded: drop the other shapes
		for k, old := range m.cache {
			m.be.Free(old.all)
			for _, b := range []kernels.Buffer{old.tokens, old.targets, old.pos} {
				m.be.Free(b)
			}
			delete(m.cache, k)
		}
	}
	if m.cache == nil {
		m.cache = map[[2]int]*acts{}
	}
	c := m.Cfg
	N, C, D := B*T, c.Dim, c.HeadDim()
	HD, KD := c.Heads*D, c.KVHeads*D
	a := &acts{B: B, T: T}
	// Lay out sizes first, then carve one allocation.
	var sizes []int
	add := func(n int) int { sizes = append(sizes, n); return len(sizes) - 1 }
	type layerIdx [13]int
	resIdx := make([]int, c.Layers+1)
	for i := range resIdx {
		resIdx[i] = add(N * C)
	}
	lidx := make([]layerIdx, c.Layers)
	for l := range lidx {
		lidx[l] = layerIdx{add(N * C), add(N), add(N * HD), add(N * KD), add(N * KD), add(N * HD), add(N * c.Heads),
			add(N * C), add(N * C), add(N), add(N * c.FFN), add(N * c.FFN), add(N * c.FFN)}
	}
	iLnf, iRstf, iLogits, iLosses, iMask := add(N*C), add(N), add(N*c.Vocab), add(N), add(N)
	iDres, iDln, iDq, iDk, iDv, iDatt := add(N*C), add(N*C), add(N*HD), add(N*KD), add(N*KD), add(N*HD)
	iDgate, iDup, iDact := add(N*c.FFN), add(N*c.FFN), add(N*c.FFN)
	total := 0
	offs := make([]int, len(sizes))
	for i, s := range sizes {
		offs[i] = total
		total += s
	}
	a.all = m.be.Alloc(total)
	v := func(i int) kernels.Buffer { return m.be.View(a.all, offs[i], sizes[i]) }
	for _, i := range resIdx {
		a.res = append(a.res, v(i))
	}
	for _, li := range lidx {
		a.layers = append(a.layers, layerActs{v(li[0]), v(li[1]), v(li[2]), v(li[3]), v(li[4]), v(li[5]), v(li[6]),
			v(li[7]), v(li[8]), v(li[9]), v(li[10]), v(li[11]), v(li[12])})
	}
	a.lnf, a.rstf, a.logits, a.losses, a.mask = v(iLnf), v(iRstf), v(iLogits), v(iLosses), v(iMask)
	a.dres, a.dln, a.dq, a.dk, a.dv, a.datt = v(iDres), v(iDln), v(iDq), v(iDk), v(iDv), v(iDatt)
	a.dgate, a.dup, a.dact = v(iDgate), v(iDup), v(iDact)
	a.tokens, a.targets, a.pos = m.be.AllocInt32(N), m.be.AllocInt32(N), m.be.AllocInt32(N)
	m.cache[[2]int{B, T}] = a
	m.act = a
	return a
}

// Input is one micro-batch in the model's terms (mixer.Batch converts to it).
type Input struct {
	B, T      int
	Tokens    []int32
	Targets   []int32 // nil: forward only, no loss
	Positions []int32
	LossMask  []float32
}

// Forward runs the model on in. With targets it returns the per-token
// losses (unmasked; the caller applies LossMask) and, when gradScale != 0,
// leaves dlogits = d(sum(mask*loss)*gradScale)/dlogits ready for Backward.
func (m *Model) Forward(in Input, gradScale float32) ([]float32, error) {
	c, be := m.Cfg, m.be
	B, T := in.B, in.T
	N := B * T
	if len(in.Tokens) != N || len(in.Positions) != N || (in.Targets != nil && (len(in.Targets) != N || len(in.LossMask) != N)) {
		return nil, fmt.Errorf("forward: batch %dx%d: slice lengths tokens %d positions %d targets %d mask %d",
			B, T, len(in.Tokens), len(in.Positions), len(in.Targets), len(in.LossMask))
	}
	for i, t := range in.Tokens {
		if t < 0 || int(t) >= c.Vocab {
			return nil, fmt.Errorf("forward: token %d at index %d outside vocabulary of %d", t, i, c.Vocab)
		}
	}
	a := m.activations(B, T)
	be.UploadInt32(a.tokens, in.Tokens)
	be.UploadInt32(a.pos, in.Positions)
	C, D := c.Dim, c.HeadDim()
	HD, KD := c.Heads*D, c.KVHeads*D
	be.Embedding(a.res[0], a.tokens, m.p.embed, N, C)
	for l := 0; l < c.Layers; l++ {
		p, s := m.p.layers[l], a.layers[l]
		be.RMSNorm(s.ln1, s.rstd1, a.res[l], p.attnNorm, N, C, c.NormEps)
		be.Matmul(s.q, s.ln1, p.wq, N, HD, C, false, true, false)
		be.Matmul(s.k, s.ln1, p.wk, N, KD, C, false, true, false)
		be.Matmul(s.v, s.ln1, p.wv, N, KD, C, false, true, false)
		if c.UsesRoPE(l) {
			be.RoPE(s.q, a.pos, N, c.Heads, D, c.RopeBase)
			be.RoPE(s.k, a.pos, N, c.KVHeads, D, c.RopeBase)
		}
		be.Attention(s.att, s.lse, s.q, s.k, s.v, a.pos, B, T, c.Heads, c.KVHeads, D)
		be.Copy(s.resMid, a.res[l])
		be.Matmul(s.resMid, s.att, p.wo, N, C, HD, false, true, true)
		be.RMSNorm(s.ln2, s.rstd2, s.resMid, p.mlpNorm, N, C, c.NormEps)
		be.Matmul(s.gate, s.ln2, p.wgate, N, c.FFN, C, false, true, false)
		be.Matmul(s.up, s.ln2, p.wup, N, c.FFN, C, false, true, false)
		be.SwiGLU(s.act, s.gate, s.up, N, c.FFN)
		be.Copy(a.res[l+1], s.resMid)
		be.Matmul(a.res[l+1], s.act, p.wdown, N, C, c.FFN, false, true, true)
	}
	be.RMSNorm(a.lnf, a.rstf, a.res[c.Layers], m.p.finalNorm, N, C, c.NormEps)
	be.Matmul(a.logits, a.lnf, m.p.embed, N, c.Vocab, C, false, true, false)
	if in.Targets == nil {
		return nil, nil
	}
	be.UploadInt32(a.targets, in.Targets)
	be.Upload(a.mask, in.LossMask)
	var dl kernels.Buffer
	if gradScale != 0 {
		dl = a.logits
	}
	be.CrossEntropy(a.losses, dl, a.logits, a.targets, a.mask, N, c.Vocab, gradScale)
	losses := make([]float32, N)
	be.Download(losses, a.losses)
	return losses, nil
}

// Logits downloads the logits of row b, position t after a forward-only
// pass (Targets nil) into dst [V].
func (m *Model) Logits(b, t int, dst []float32) {
	a := m.act
	n := b*a.T + t
	m.be.Download(dst, m.be.View(a.logits, n*m.Cfg.Vocab, m.Cfg.Vocab))
}

// Backward accumulates parameter gradients into Grads from the dlogits the
// last Forward left (call ZeroGrad before the first micro-batch of a step).
func (m *Model) Backward() {
	c, be, a := m.Cfg, m.be, m.act
	N := a.B * a.T
	C, D := c.Dim, c.HeadDim()
	HD, KD := c.Heads*D, c.KVHeads*D
	F := c.FFN
	// Output layer (tied): dlnf = dlogits E, dE += dlogits^T lnf.
	be.Matmul(a.dln, a.logits, m.p.embed, N, C, c.Vocab, false, false, false)
	be.Matmul(m.g.embed, a.logits, a.lnf, c.Vocab, C, N, true, false, true)
	be.Zero(a.dres)
	be.RMSNormBackward(a.dres, m.g.finalNorm, a.dln, a.res[c.Layers], m.p.finalNorm, a.rstf, N, C)
	for l := c.Layers - 1; l >= 0; l-- {
		p, g, s := m.p.layers[l], m.g.layers[l], a.layers[l]
		// MLP.
		be.Matmul(a.dact, a.dres, p.wdown, N, F, C, false, false, false)
		be.Matmul(g.wdown, a.dres, s.act, C, F, N, true, false, true)
		be.SwiGLUBackward(a.dgate, a.dup, a.dact, s.gate, s.up, N, F)
		be.Matmul(a.dln, a.dgate, p.wgate, N, C, F, false, false, false)
		be.Matmul(a.dln, a.dup, p.wup, N, C, F, false, false, true)
		be.Matmul(g.wgate, a.dgate, s.ln2, F, C, N, true, false, true)
		be.Matmul(g.wup, a.dup, s.ln2, F, C, N, true, false, true)
		be.RMSNormBackward(a.dres, g.mlpNorm, a.dln, s.resMid, p.mlpNorm, s.rstd2, N, C)
		// Attention.
		be.Matmul(a.datt, a.dres, p.wo, N, HD, C, false, false, false)
		be.Matmul(g.wo, a.dres, s.att, C, HD, N, true, false, true)
		be.AttentionBackward(a.dq, a.dk, a.dv, a.datt, s.q, s.k, s.v, s.att, s.lse, a.pos, a.B, a.T, c.Heads, c.KVHeads, D)
		if c.UsesRoPE(l) {
			be.RoPEBackward(a.dq, a.pos, N, c.Heads, D, c.RopeBase)
			be.RoPEBackward(a.dk, a.pos, N, c.KVHeads, D, c.RopeBase)
		}
		be.Matmul(a.dln, a.dq, p.wq, N, C, HD, false, false, false)
		be.Matmul(a.dln, a.dk, p.wk, N, C, KD, false, false, true)
		be.Matmul(a.dln, a.dv, p.wv, N, C, KD, false, false, true)
		be.Matmul(g.wq, a.dq, s.ln1, HD, C, N, true, false, true)
		be.Matmul(g.wk, a.dk, s.ln1, KD, C, N, true, false, true)
		be.Matmul(g.wv, a.dv, s.ln1, KD, C, N, true, false, true)
		be.RMSNormBackward(a.dres, g.attnNorm, a.dln, a.res[l], p.attnNorm, s.rstd1, N, C)
	}
	be.EmbeddingBackward(m.g.embed, a.tokens, a.dres, N, C)
}

// ZeroGrad clears the gradient buffer.
func (m *Model) ZeroGrad() { m.be.Zero(m.Grads) }

// HostParams downloads all parameters.
func (m *Model) HostParams() []float32 {
	h := make([]float32, m.nParams)
	m.be.Download(h, m.Params)
	return h
}

// TensorNames lists the parameter tensors in buffer order.
func (m *Model) TensorNames() []string {
	n := make([]string, len(m.specs))
	for i, t := range m.specs {
		n[i] = t.Name
	}
	return n
}
