"""Whole-step measurements on a real GPU (issue 15): eager vs CUDA-graph decode steps of a LLaMA-style layer stack
written as ../shared/reference/h100/measured_model.md describes (HF RMSNorm with fp32 upcast, fused QKV,
rotate-half RoPE, static KV cache copy, SDPA, transpose, MLP), and board power / SM clock under load.

Rows: `step,hidden,layers,batch,ctx,kernels,eager_us,host_issue_us,graph_us` (eager_us: CUDA events around an eager
step; host_issue_us: host time to issue the step while the GPU is busy; graph_us: one graph replay), and
`pow,phase,calls_per_s,<power W;SM MHz samples every 100 ms>` (idle, 8192^3 bf16 and fp8 GEMMs, 512 MiB copy).
Run as a file on the device machine: `python benchmarks/gpu/FILE.py` (writes under $OUT).
"""
import torch as T,torch.nn.functional as F,time,os,subprocess as S
c=T.cuda;D='cuda';b=T.bfloat16;R=T.randn;O=open(os.environ.get('OUT','.')+'/s.csv','w')
def P(*a):
 s=','.join(map(str,a));print(s);O.write(s+'\n');O.flush()
def nm(x,w):v=x.float();v=v*T.rsqrt(v.pow(2).mean(-1,keepdim=True)+1e-6);return w*v.to(b)
def ro(x,co,si):h=x.shape[-1]//2;return x*co+T.cat((-x[...,h:],x[...,:h]),-1)*si
def lay(x,W,p):
 B,s,_=x.shape;qkv=F.linear(nm(x,W[4]),W[0]);q,k,v=qkv.split(W[7],-1);H,d=W[8];q=ro(q.view(B,s,H,d).transpose(1,2),W[9],W[9]);k=ro(k.view(B,s,H,d).transpose(1,2),W[9],W[9])
 W[5][:,:,p:p+s]=k;W[6][:,:,p:p+s]=v.view(B,s,H,d).transpose(1,2);o=F.scaled_dot_product_attention(q,W[5][:,:,:p+s],W[6][:,:,:p+s])
 x=x+F.linear(o.transpose(1,2).reshape(B,s,H*d),W[1]);g,u=F.linear(nm(x,W[4]),W[2]).chunk(2,-1);return x+F.linear(F.silu(g)*u,W[3])
for h,H,f,n,B,L in[(256,4,688,8,1,128),(256,4,688,32,1,128),(4096,32,11008,4,1,512),(4096,32,11008,4,16,512),(4096,32,11008,4,64,512)]:
 try:
  d=h//H;Ws=[[R(3*h,h,device=D,dtype=b)*.02,R(h,h,device=D,dtype=b)*.02,R(2*f,h,device=D,dtype=b)*.02,R(h,f,device=D,dtype=b)*.02,T.ones(h,device=D,dtype=b),T.zeros(B,H,L+8,d,device=D,dtype=b),T.zeros(B,H,L+8,d,device=D,dtype=b),[h,h,h],(H,d),R(1,1,1,d,device=D,dtype=b)]for _ in range(n)]
  x=R(B,1,h,device=D,dtype=b)
  def st():
   y=x
   for W in Ws:y=lay(y,W,L)
  for _ in range(3):st()
  from torch.profiler import profile,ProfilerActivity as A
  with profile(activities=[A.CUDA])as pr:st();c.synchronize()
  nk=sum(1 for e in pr.events()if e.device_type.name=='CUDA')
  E=[(c.Event(enable_timing=1),c.Event(enable_timing=1))for _ in range(20)]
  for a,e in E:c.synchronize();a.record();st();e.record();c.synchronize()
  ea=sorted(a.elapsed_time(e)for a,e in E)[10]*1e3;c._sleep(10**8);t=time.perf_counter();st();hi=(time.perf_counter()-t)*1e6;c.synchronize()
  G=c.CUDAGraph()
  with c.graph(G):st()
  G.replay();c.synchronize();gt=[]
  for a,e in E:a.record();G.replay();e.record();c.synchronize();gt.append(a.elapsed_time(e)*1e3)
  P('step',h,n,B,L,nk,'%.1f,%.1f,%.1f'%(ea,hi,sorted(gt)[10]));del Ws,G
 except Exception as e:P('step',h,n,B,'err',str(e)[:90])
def pw(l,s,f=None):
 p=S.Popen(['nvidia-smi','--query-gpu=power.draw,clocks.sm','--format=csv,noheader,nounits','-lms','100'],stdout=S.PIPE,text=True);t=time.time();m=0
 while time.time()-t<s:
  if f:[f()for _ in range(10)];c.synchronize();m+=10
  else:time.sleep(.1)
 p.terminate();P('pow',l,m/s,p.communicate()[0].replace('\n',' ').replace(', ',';'))
a=R(8192,8192,device=D,dtype=b);z=R(8192,8192,device=D,dtype=b);o=T.tensor(1.,device=D)
pw('idle',2);pw('bf16',4,lambda:a@z);a8,z8=a.to(T.float8_e4m3fn),z.to(T.float8_e4m3fn);pw('fp8',4,lambda:T._scaled_mm(a8,z8.t(),scale_a=o,scale_b=o,out_dtype=b));del a,z,a8,z8
x=R(2**28,device=D,dtype=b);y=T.empty_like(x);pw('copy1GiB',3,lambda:y.copy_(x))
