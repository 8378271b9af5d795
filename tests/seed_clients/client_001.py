import asyncio
import json
import websockets
import io
import torchaudio

async def synthesize(text, emo_mode="none"):
    uri = "ws://127.0.0.1:8770"
    
    async with websockets.connect(uri, max_size=None) as ws:
        # 1. 接收欢迎消息
        welcome = await ws.recv()
        print("连接成功:", json.loads(welcome)["message"])
        
        # 2. 发送合成请求
        request = {
            "type": "tts_stream",
            "text": text,
            "prompt_audio": "asset/zero_shot_prompt.wav",
            "emo_mode": emo_mode,
            "interval_silence": 200,
            "max_tokens": 120,
            "use_random": False
        }
        
        # 根据模式添加额外参数
        if emo_mode == "vector":
            request["emo_vector"] = [0.8, 0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.0]
        elif emo_mode == "text":
            request["emo_text"] = "我很开心"
            request["emo_alpha"] = 0.9
        
        await ws.send(json.dumps(request, ensure_ascii=False))
        
        # 3. 接收响应
        audio_data = None
        task_id = None
        
        async for msg in ws:
            if isinstance(msg, bytes):
                # 音频数据
                audio_data = msg
                print(f"收到音频数据 ({len(msg)} 字节)")
            else:
                # 控制消息
                data = json.loads(msg)
                msg_type = data.get("type")
                
                if msg_type == "queued":
                    task_id = data["task_id"]
                    print(f"任务已排队: {task_id[:8]}...")
                elif msg_type == "start":
                    print("开始生成音频")
                elif msg_type == "end":
                    print("生成完成")
                    break
                elif data.get("status") == "error":
                    print("错误:", data.get("message"))
                    break
        
        return audio_data

# 运行示例
if __name__ == "__main__":
    asyncio.run(synthesize("大家好，我现在正在体验 AI 科技！"))
