"""Kernel measurements on a real GPU (issue 15): causal prefill attention, bf16 / fp8 / int8 GEMMs and weight-only
int8 / int4 GEMV and small-M GEMMs. Prints and writes $OUT/m.csv; method in tests/data/gpu_h100/README.md.

Rows: `env,<device>,<torch>,<driver;max SM clock;power limit;SM clock;power>`, `attn,B,L,Hq,Hkv,median_us,`,
`gemm,M,N,K,kind,median_us,graph_us` (kind: bf16 F.linear, fp8 torch._scaled_mm with per-tensor scales, int8
torch._int_mm, w8 eager dequant + F.linear, w8p torch._weight_int8pack_mm, w4 tinygemm int4 g128), or `...,err,msg`.
Run as a file on the device machine: `python benchmarks/gpu/FILE.py` (writes under $OUT).
"""
import torch as T,torch.nn.functional as F,time,os,subprocess as S
c=T.cuda;D='cuda';b16=T.bfloat16;R=T.randn;O=open(os.environ.get('OUT','.')+'/m.csv','w')
def P(*a):
 s=','.join(map(str,a));print(s);O.write(s+'\n');O.flush()
def q(f):return S.run(['nvidia-smi','--query-gpu='+f,'--format=csv,noheader,nounits'],capture_output=True,text=True).stdout.strip().replace(', ',';')
P('env',c.get_device_name(),T.__version__,q('driver_version,clocks.max.sm,power.limit,clocks.sm,power.draw'))
def tm(fs,n=40,g=1):
 for f in fs[:2]:f()
 c.synchronize();E=[(c.Event(enable_timing=1),c.Event(enable_timing=1))for _ in range(n)]
 for i,(a,b)in enumerate(E):c._sleep(100000);a.record();fs[i%len(fs)]();b.record()
 c.synchronize();t=sorted(a.elapsed_time(b)*1e3 for a,b in E);m=t[n//2];gr=''
 if g:
  try:
   G=c.CUDAGraph()
   with c.graph(G):
    for i in range(10):fs[i%len(fs)]()
   G.replay();c.synchronize();a,b=E[0];a.record();G.replay();G.replay();b.record();c.synchronize();gr=a.elapsed_time(b)*50
  except Exception as e:gr='x'
 return '%.2f,%s'%(m,gr)
def k(nb):return max(2,min(12,int(4*50e6/nb)+1))
for B,L,H,h in[(1,512,32,32),(1,1024,32,32),(1,2048,32,32),(1,4096,32,32),(1,8192,32,32),(4,1024,32,32),(4,2048,32,32),(8,2048,32,32),(16,512,32,32),(2,2048,40,40),(1,4096,64,8),(4,2048,64,8),(8,1024,32,8)]:
 try:
  s=[(R(B,H,L,128,device=D,dtype=b16),R(B,h,L,128,device=D,dtype=b16),R(B,h,L,128,device=D,dtype=b16))for _ in range(k(B*L*(H+2*h)*256))]
  P('attn',B,L,H,h,tm([lambda x=x:F.scaled_dot_product_attention(*x,is_causal=True,enable_gqa=H!=h)for x in s],g=0))
 except Exception as e:P('attn',B,L,H,h,'err',str(e)[:80])
one=T.tensor(1.,device=D);f8=T.float8_e4m3fn
for N,K in[(12288,4096),(4096,4096),(22016,4096),(4096,11008),(8192,8192)]:
 for M in[1,16,128,512,2048,8192]:
  for d in['bf16','fp8','int8','w8','w8p','w4']:
   try:
    n=k(N*K)
    if d=='bf16':s=[(R(M,K,device=D,dtype=b16),R(N,K,device=D,dtype=b16))for _ in range(n)];f=lambda x,w:F.linear(x,w)
    elif d=='fp8':s=[(R(M,K,device=D).to(f8),R(N,K,device=D).to(f8))for _ in range(n)];f=lambda x,w:T._scaled_mm(x,w.t(),scale_a=one,scale_b=one,out_dtype=b16)
    elif d=='int8':s=[(T.randint(-99,99,(M,K),device=D,dtype=T.int8),T.randint(-99,99,(N,K),device=D,dtype=T.int8))for _ in range(n)];f=lambda x,w:T._int_mm(x,w.t())
    elif M>64:continue
    elif d=='w4':
     s=[(R(M,K,device=D,dtype=b16),(T._convert_weight_to_int4pack(T.randint(0,255,(N,K//2),device=D,dtype=T.uint8),8),R(K//128,N,2,device=D,dtype=b16)))for _ in range(n)];f=lambda x,w:T._weight_int4pack_mm(x,w[0],128,w[1])
    else:
     s=[(R(M,K,device=D,dtype=b16),(T.randint(-99,99,(N,K),device=D,dtype=T.int8),R(N,device=D,dtype=b16)))for _ in range(n)]
     f=(lambda x,w:F.linear(x,w[0].to(b16))*w[1])if d=='w8'else(lambda x,w:T._weight_int8pack_mm(x,w[0],w[1]))
    P('gemm',M,N,K,d,tm([lambda x=x,w=w:f(x,w)for x,w in s]));del s
   except Exception as e:P('gemm',M,N,K,d,'err',str(e)[:80])
 if N==8192:break
